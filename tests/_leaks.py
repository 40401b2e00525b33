"""A snapshot of what a test could leak: threads, fds, child processes, /dev/shm entries."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from rtcbot_tools.usage import childPids


def _shmEntries() -> frozenset[str]:
    try:
        return frozenset(n for n in os.listdir("/dev/shm") if not n.startswith("jack"))
    except FileNotFoundError:
        return frozenset()


def _describeFd(fd: int) -> str:
    try:
        return f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}"
    except OSError:
        return str(fd)


def _openFds() -> frozenset[int]:
    return frozenset(int(fd) for fd in os.listdir("/proc/self/fd"))


@dataclass(frozen=True)
class Resources:
    threads: frozenset[str]
    fds: frozenset[int]
    children: frozenset[int]
    shm: frozenset[str]

    @classmethod
    def snapshot(cls) -> Resources:
        return cls(
            threads=frozenset(f"{t.name}#{t.ident}" for t in threading.enumerate()),
            fds=_openFds(),
            children=frozenset(childPids(os.getpid())),
            shm=_shmEntries(),
        )

    def leakedSince(self, before: Resources) -> list[str]:
        problems = []
        if extra := self.threads - before.threads:
            problems.append(f"threads still running: {sorted(extra)}")
        if extra := self.fds - before.fds:
            problems.append(f"file descriptors left open: {[_describeFd(fd) for fd in sorted(extra)]}")
        if extra := self.children - before.children:
            problems.append(f"child processes still running: {sorted(extra)}")
        if extra := self.shm - before.shm:
            problems.append(f"/dev/shm entries left behind: {sorted(extra)}")
        return problems
