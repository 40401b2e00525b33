"""Every named-stream test gets a stream directory of its own, left empty at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def streamDir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ``RTCBOT_STREAM_DIR`` that another user may enter (0755); the test fails if
    a socket is left in it."""
    directory = Path(tempfile.mkdtemp(prefix="rtcbot-streams-", dir="/tmp"))
    os.chmod(directory, 0o755)
    monkeypatch.setenv("RTCBOT_STREAM_DIR", str(directory))
    try:
        yield directory
        left = sorted(entry.name for entry in directory.iterdir())
        assert not left, f"the test left {left} in the stream directory"
    finally:
        shutil.rmtree(directory, ignore_errors=True)
