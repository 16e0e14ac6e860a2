# workvoice: one image for the bot, the console and migrations (the command picks the role).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY workvoice ./workvoice
COPY services ./services
COPY bot ./bot
COPY admin ./admin
# bot/i18n/locales links here: the catalogs go into the wheel as package data.
COPY locales ./locales
# The dependencies come from requirements.lock (exact versions and hashes), not from this wheel.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    WORKVOICE_DATA_DIR=/data \
    WORKVOICE_CONSOLE_HOST=0.0.0.0 WORKVOICE_CONSOLE_PORT=8080
RUN groupadd --system workvoice && useradd --system --gid workvoice --home /app workvoice \
    && mkdir -p /data /app && chown workvoice:workvoice /data && chmod 0700 /data
# Pinned and hash-checked: a changed or substituted package fails the build (issue 14, L7).
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/*.whl && rm -rf /wheels
WORKDIR /app
USER workvoice
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
# The image listens on 0.0.0.0: with no WORKVOICE_BOT_TOKEN this refuses to start rather than
# serve the demo (public password and codes) to the network; WORKVOICE_DEMO=1 asks for the demo.
# Compose runs `workvoice bot` and `workvoice console` instead (see compose.yaml).
CMD ["workvoice", "run"]
