"""TURN: a robot (aiortc) and Chromium on two hosts (network namespaces) with no route
between them connect through Debian's coturn, run here on a third host both reach; without
the TURN server they cannot connect at all."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from rtcbot import getRTCBotJS

from ..rigfixtures import _unavailable
from .browser import chromiumPage
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
        "turnserver",
        "-n",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--simple-log",
        "--log-file=stdout",
        f"--listening-port={port}",
        f"--listening-ip={robot.localAddress}",
        f"--listening-ip={viewer.localAddress}",
        f"--relay-ip={robot.localAddress}",
        "--lt-cred-mech",
        f"--user={USER}:{PASSWORD}",
        "--realm=rtcbot.test",
        f"--pidfile={state}/turnserver.pid",
        f"--userdb={state}/turndb",
        "--min-port=49160",
        "--max-port=49400",
    ]
    server = await asyncio.to_thread(
        subprocess.Popen, command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
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


#: The browser's side: rtcbot.js, offering; it answers the robot's greeting.
OFFER = """async (iceServers) => {
  window.conn = new rtcbot.RTCConnection(true, { iceServers });
  conn.subscribe((message) => conn.put_nowait("browser got: " + message));
  return await conn.getLocalDescription();
}"""

#: The candidate types of the pair the browser's ICE selected, from its own statistics.
SELECTED_PAIR = """async () => {
  const stats = await conn._pc.getStats();
  const byId = new Map([...stats.values()].map((entry) => [entry.id, entry]));
  for (const entry of byId.values()) {
    if (entry.type === "transport" && entry.selectedCandidatePairId) {
      const pair = byId.get(entry.selectedCandidatePairId);
      const typeOf = (id) => byId.get(id).candidateType;
      return { local: typeOf(pair.localCandidateId), remote: typeOf(pair.remoteCandidateId) };
    }
  }
  return {};
}"""


async def _connect(
    robot: RemoteHost, viewer: RemoteHost, serversFor: Any, wait: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The robot (aiortc) in ``robot`` answers Chromium's offer, made in ``viewer``; the
    descriptions pass through this host, as a signalling server there would pass them.
    What the robot says, and the pair the browser selected."""
    argv = robot.command([sys.executable, "-m", "tests.webrtc.turnpeer", json.dumps(serversFor(robot)), str(wait)])
    peer = await asyncio.to_thread(
        subprocess.Popen, argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert peer.stdin is not None and peer.stdout is not None
    stdout = peer.stdout

    async def readLine() -> str:
        return await asyncio.wait_for(asyncio.to_thread(stdout.readline), wait + 15)

    try:
        async with chromiumPage(namespace=viewer.name) as page:
            await page.add_script_tag(content=getRTCBotJS())
            offer = await page.evaluate(OFFER, serversFor(viewer))
            peer.stdin.write(json.dumps(offer) + "\n")
            peer.stdin.flush()
            await page.evaluate("(answer) => conn.setRemoteDescription(answer)", json.loads(await readLine()))
            robotSays = json.loads(await readLine())
            browserPair = await page.evaluate(SELECTED_PAIR) if robotSays["connected"] else {}
        return robotSays, browserPair
    finally:
        peer.stdin.close()
        await asyncio.to_thread(peer.wait, 20)
        peer.stdout.close()


async def test_a_robot_and_a_browser_with_no_route_between_them_connect_through_turn_and_not_without() -> None:
    async with remoteHost(1) as robot, remoteHost(2) as viewer, turnServer(robot, viewer) as port:
        unreachable = await asyncio.to_thread(
            subprocess.run, robot.command(["ping", "-c", "1", "-W", "1", viewer.remoteAddress]), capture_output=True
        )
        assert unreachable.returncode != 0, "the two hosts must have no route between them"
        withTurn = lambda host: [  # noqa: E731  each host reaches the TURN server at its own end of the link
            {"urls": f"turn:{host.localAddress}:{port}?transport=udp", "username": USER, "credential": PASSWORD}
        ]
        started = time.monotonic()
        robotThrough, browserThrough = await _connect(robot, viewer, withTurn, 20)
        took = time.monotonic() - started
        # Without TURN nothing can connect: given several times what it took through TURN.
        robotWithout, _ = await _connect(robot, viewer, lambda host: [], max(8.0, 3 * took))
    assert robotThrough["connected"] and robotThrough["heard"] == "browser got: robot here", robotThrough
    assert "relay" in (robotThrough["local"], robotThrough["remote"]), robotThrough
    assert "relay" in (browserThrough["local"], browserThrough["remote"]), browserThrough
    assert not robotWithout["connected"], robotWithout
    print(f"through TURN in {took:.1f} s: robot {robotThrough}, browser {browserThrough}; without: {robotWithout}")
