"""Reading a live SQLite database's files the way a database reader would, without harming it.

Closing any file descriptor on a database file drops every POSIX lock this process holds on it
(SQLite's "How To Corrupt An SQLite Database File", §2.2): a plain ``Path.read_bytes()`` of the
test database while its engine keeps connections lets a CLI subprocess write under those
connections' feet, and the file comes out malformed. So the bytes are read by another process.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def read_from_outside(path: Path) -> bytes:
    """The file's bytes, read by a child process (``b""`` when it does not exist)."""
    if not path.exists():
        return b""
    return subprocess.run(["cat", str(path)], capture_output=True, check=True).stdout
