"""A restarted process may listen at once on the port its predecessor used (issue 18, §5): the
review's restarts took 64–75 s in webhook mode because the start-up port check bound without
SO_REUSEADDR while the old process's connections sat in TIME_WAIT."""

from __future__ import annotations

import socket

import pytest

from workvoice.app import check_port_free
from workvoice.kernel.settings import ConfigError


def _time_wait_on_a_port() -> int:
    """A port whose last connection was closed by the server side first: it sits in TIME_WAIT,
    as after a process that was serving Telegram's keep-alive connections stopped."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server closes first: its end goes to TIME_WAIT
    client.close()
    server.close()
    return int(port)


def test_a_port_in_time_wait_is_free_for_the_next_process() -> None:
    port = _time_wait_on_a_port()
    plain = socket.socket()
    try:
        with pytest.raises(OSError):  # what the old check did: refused
            plain.bind(("127.0.0.1", port))
    finally:
        plain.close()
    check_port_free("127.0.0.1", port)  # no ConfigError


def test_a_port_someone_listens_on_is_still_refused() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        with pytest.raises(ConfigError):
            check_port_free("127.0.0.1", listening.getsockname()[1])
