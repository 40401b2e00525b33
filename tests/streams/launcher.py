"""Starting the programs of :mod:`.programs` from an async test, and ending them by pid."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parents[2]


async def attachedFrameShape(name: str, timeout: float = 5.0) -> tuple[int, ...]:
    """Attaches to stream ``name`` from this program, takes one frame and detaches: the
    frame's shape."""
    import rtcbot

    stream = rtcbot.attach(name)
    try:
        frame = await asyncio.wait_for(stream.get(), timeout)
        shape: tuple[int, ...] = frame.shape
        del frame
    finally:
        stream.close()
        await stream
    return shape


class Program:
    """A running program whose stdout is JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process, role: str) -> None:
        self.process = process
        self.role = role
        self.lines: list[dict[str, Any]] = []

    @property
    def pid(self) -> int:
        return self.process.pid

    async def line(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next line it prints; AssertionError if it ends or says nothing in time."""
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not raw:
            stderr = b"" if self.process.stderr is None else await self.process.stderr.read()
            raise AssertionError(f"{self.role} (pid {self.pid}) ended: {stderr.decode()[-2000:]}")
        value: dict[str, Any] = json.loads(raw)
        self.lines.append(value)
        return value

    async def until(self, key: str, timeout: float = 5.0) -> dict[str, Any]:
        """Reads lines until one has ``key``; returns it."""
        async with asyncio.timeout(timeout):
            while True:
                value = await self.line(timeout)
                if key in value:
                    return value

    async def frames(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The next ``count`` frame lines."""
        found: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while len(found) < count:
                value = await self.line(timeout)
                if "seq" in value:
                    found.append(value)
        return found

    def kill(self, signum: int = signal.SIGKILL) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signum)

    async def exitCode(self, timeout: float = 5.0) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)


class Programs:
    """``async with Programs() as programs``: programs started inside end with the block
    (SIGKILL by pid for any still running), and their pipes are closed."""

    def __init__(self) -> None:
        self._started: list[Program] = []

    async def start(self, role: str, *arguments: str, command: list[str] | None = None) -> Program:
        """Starts ``python -m tests.streams.programs ROLE ARGUMENTS`` (or ``command``)."""
        argv = command if command is not None else [sys.executable, "-m", "tests.streams.programs", role, *arguments]
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        program = Program(process, role)
        self._started.append(program)
        return program

    async def __aenter__(self) -> Programs:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for program in self._started:
            program.kill()
        for program in self._started:
            await program.process.wait()
            if program.process.stderr is not None:
                await program.process.stderr.read()
