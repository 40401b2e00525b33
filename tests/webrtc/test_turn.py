"""TURN: a robot and a viewer on two hosts (network namespaces) with no route between them
connect through Debian's coturn, run here on a host both reach; without the TURN server
they cannot connect at all."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ..rigfixtures import _unavailable
from .netns import RemoteHost, remoteHost

ROOT = Path(__file__).parents[2]
USER, PASSWORD = "robot", "turn-test-secret"

pytestmark = [pytest.mark.loop_timeout(80), pytest.mark.timeout(110)]


@asynccontextmanager
async def turnServer(robot: RemoteHost, viewer: RemoteHost) -> AsyncIterator[str]:
    """coturn on this host, listening on the address each namespace reaches; yields its port."""
    if shutil.which("turnserver") is None:
        _unavailable("Debian's coturn is not installed (scripts/system-packages installs it)")
    port = 20000 + os.getpid() % 20000
    state = await asyncio.to_thread(tempfile.mkdtemp, prefix="rtcbot-coturn-")
    command = [
        "turnserver", "-n", "--no-cli", "--no-tls", "--no-dtls", "--simple-log", "--log-file=stdout",
        f"--listening-port={port}", f"--listening-ip={robot.localAddress}", f"--listening-ip={viewer.localAddress}",
        f"--relay-ip={robot.localAddress}", "--lt-cred-mech", f"--user={USER}:{PASSWORD}", "--realm=rtcbot.test",
        f"--pidfile={state}/turnserver.pid", f"--userdb={state}/turndb", "--min-port=49160", "--max-port=49400",
    ]  # fmt: skip
    server = await asyncio.to_thread(subprocess.Popen, command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert server.stdout is not None
    try:
        while True:  # its listeners are open once it has made its servers
            line = await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), 20)
            assert line, f"coturn ended: {server.poll()}"
            if "Total General servers" in line:
                break
        yield str(port)
    finally:
        server.terminate()
        await asyncio.to_thread(server.wait, 20)
        server.stdout.close()
        await asyncio.to_thread(shutil.rmtree, state, True)


async def _connect(robot: RemoteHost, viewer: RemoteHost, serversFor: Any) -> list[dict[str, Any]]:
    """An offering peer in ``robot``, an answering one in ``viewer``; what each says."""
    peers = []
    for host, role in ((robot, "offer"), (viewer, "answer")):
        argv = host.command([sys.executable, "-m", "tests.webrtc.turnpeer", role, json.dumps(serversFor(host))])
        peers.append(
            await asyncio.to_thread(
                subprocess.Popen, argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
        )
    offerer, answerer = peers
    try:
        async def relay(source: subprocess.Popen[str], target: subprocess.Popen[str]) -> None:
            assert source.stdout is not None and target.stdin is not None
            target.stdin.write(await asyncio.wait_for(asyncio.to_thread(source.stdout.readline), 20))
            target.stdin.flush()

        await relay(offerer, answerer)
        await relay(answerer, offerer)
        results = []
        for peer in peers:
            assert peer.stdout is not None
            results.append(json.loads(await asyncio.wait_for(asyncio.to_thread(peer.stdout.readline), 45)))
        return results
    finally:
        for peer in peers:
            assert peer.stdin is not None and peer.stdout is not None
            peer.stdin.close()
            await asyncio.to_thread(peer.wait, 20)
            peer.stdout.close()


async def test_peers_with_no_route_between_them_connect_through_turn_and_not_without() -> None:
    async with remoteHost(1) as robot, remoteHost(2) as viewer, turnServer(robot, viewer) as port:
        unreachable = await asyncio.to_thread(
            subprocess.run, robot.command(["ping", "-c", "1", "-W", "1", viewer.remoteAddress]), capture_output=True
        )
        assert unreachable.returncode != 0, "the two hosts must have no route between them"
        withTurn = lambda host: [  # noqa: E731  each host reaches the TURN server at its own end of the link
            {"urls": f"turn:{host.localAddress}:{port}?transport=udp", "username": USER, "credential": PASSWORD}
        ]
        through = await _connect(robot, viewer, withTurn)
        without = await _connect(robot, viewer, lambda host: [])
    assert all(result["connected"] for result in through), through
    assert all("relay" in (result["local"], result["remote"]) for result in through), through
    assert not any(result["connected"] for result in without), without
