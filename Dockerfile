# workvoice: one image for the bot, the console and migrations (the command picks the role).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY workvoice ./workvoice
COPY services ./services
COPY bot ./bot
COPY admin ./admin
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    WORKVOICE_DATA_DIR=/data WORKVOICE_LOCALES_DIR=/app/locales \
    WORKVOICE_CONSOLE_HOST=0.0.0.0 WORKVOICE_CONSOLE_PORT=8080
RUN groupadd --system workvoice && useradd --system --gid workvoice --home /app workvoice \
    && mkdir -p /data /app && chown workvoice:workvoice /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY locales /app/locales
WORKDIR /app
USER workvoice
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
CMD ["workvoice", "run"]
