"""A second network host for tests: a network namespace joined to this one by a veth pair,
with an optional bad link. Needs root and iproute2.

This machine's kernel has no netem qdisc ("Specified qdisc kind is unknown"), so a bad
link is a token bucket (tc tbf): a narrow link that queues and drops what exceeds it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ..rigfixtures import _unavailable


@dataclass(frozen=True)
class RemoteHost:
    """The namespace's name and both ends' addresses."""

    name: str
    localAddress: str
    remoteAddress: str
    remoteDevice: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def narrowLink(self, rate: str, burst: str, latency: str) -> None:
        """Limits what the namespace sends to ``rate`` (e.g. "300kbit"), queueing at most
        ``latency`` of it and dropping the rest."""
        tbf = ["tbf", "rate", rate, "burst", burst, "latency", latency]
        _run(*self.command(["tc", "qdisc", "replace", "dev", self.remoteDevice, "root", *tbf]))

    def setLink(self, up: bool) -> None:
        """Cuts the namespace's link (as a cable pulled or Wi-Fi lost), or restores it."""
        _run(*self.command(["ip", "link", "set", self.remoteDevice, "up" if up else "down"]))

    def droppedPackets(self) -> int:
        """Packets the namespace's link has dropped so far."""
        shown = subprocess.run(
            self.command(["tc", "-s", "qdisc", "show", "dev", self.remoteDevice]),
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        words = shown.replace(",", " ").replace("(", " ").split()
        return sum(int(words[i + 1]) for i, word in enumerate(words[:-1]) if word == "dropped")


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=10)


def _create(host: RemoteHost, localDevice: str) -> None:
    _run("ip", "netns", "add", host.name)
    _run("ip", "link", "add", localDevice, "type", "veth", "peer", "name", host.remoteDevice)
    _run("ip", "link", "set", host.remoteDevice, "netns", host.name)
    _run("ip", "addr", "add", f"{host.localAddress}/24", "dev", localDevice)
    _run("ip", "link", "set", localDevice, "up")
    _run(*host.command(["ip", "addr", "add", f"{host.remoteAddress}/24", "dev", host.remoteDevice]))
    _run(*host.command(["ip", "link", "set", host.remoteDevice, "up"]))
    _run(*host.command(["ip", "link", "set", "lo", "up"]))


def _delete(host: RemoteHost, localDevice: str) -> None:
    subprocess.run(["ip", "link", "del", localDevice], capture_output=True, timeout=10)
    subprocess.run(["ip", "netns", "del", host.name], capture_output=True, timeout=10)


@asynccontextmanager
async def remoteHost(index: int = 0) -> AsyncIterator[RemoteHost]:
    """A fresh namespace with a veth pair to this one (10.231.<index>.1 here, .2 there),
    deleted at the end with everything in it. The commands run off the event loop."""
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tc") is None:
        _unavailable("network namespaces need root and iproute2 (ip, tc)")
    tag = f"{os.getpid() % 100000}x{index}"
    host = RemoteHost(f"rtcbot-test-{tag}", f"10.231.{index}.1", f"10.231.{index}.2", f"rtb{tag}b")
    localDevice = f"rtb{tag}a"
    try:
        await asyncio.to_thread(_create, host, localDevice)
        yield host
    finally:
        await asyncio.to_thread(_delete, host, localDevice)
