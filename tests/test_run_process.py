"""`workvoice run` as a user starts it: a real process long-polling a Bot API server and answering."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx

from tests.telegram_fake import FakeTelegram


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_run_long_polls_and_answers_start(tmp_path: Path) -> None:
    telegram = FakeTelegram()
    await telegram.start()
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WORKVOICE_")},
        "WORKVOICE_BOT_TOKEN": telegram.token,
        "WORKVOICE_TELEGRAM_API_URL": telegram.base_url,
        "WORKVOICE_DATA_DIR": str(tmp_path),
        "WORKVOICE_CONSOLE_PORT": str(port),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workvoice.cli",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        # Importing aiogram takes seconds (DESIGN §9): allow a generous first wait.
        for _ in range(600):
            if any(method == "getUpdates" for method, _ in telegram.calls):
                break
            assert proc.returncode is None, (await proc.stdout.read()).decode()  # type: ignore[union-attr]
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the bot never polled")
        # Switching from webhook to polling needs deleteWebhook; aiogram's polling does not call it.
        assert any(method == "deleteWebhook" for method, _ in telegram.calls)
        worker = telegram.user(901)
        await worker.send("/start")
        reply = await worker.wait_reply(timeout=30)
        assert reply.text
        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert health.json() == {"status": "ok"}
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
        log = (await proc.stdout.read()).decode()  # type: ignore[union-attr]
        assert "901" not in log and "Worker" not in log  # no Telegram id or name in the logs
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await telegram.stop()


async def test_second_process_on_the_same_port_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "PATH": "/usr/bin:/bin",
            "WORKVOICE_DATA_DIR": str(tmp_path),
            "WORKVOICE_CONSOLE_PORT": str(port),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "workvoice.cli",
            "demo",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1
    assert f"WORKVOICE_CONSOLE_PORT: 127.0.0.1:{port} is already in use" in err.decode()
    assert "Traceback" not in err.decode()
