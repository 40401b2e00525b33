"""One peer of the TURN test, run in its own network namespace: ``offer`` or ``answer`` with
the ICE servers given as JSON. Descriptions go as JSON lines on stdin/stdout; then it says,
as one JSON line, whether the connection opened and through which candidates (the ICE pair
aioice nominated), and exits when stdin closes.

    python -m tests.webrtc.turnpeer offer|answer ICE_SERVERS_JSON
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from rtcbot.webrtc import RTCConnection


def _selectedPair(connection: RTCConnection) -> dict[str, Any]:
    """The candidate types of the pair ICE chose (aioice's own record of it)."""
    sctp = connection._rtc.sctp
    if sctp is None:
        return {}
    pair = sctp.transport.transport._connection._nominated.get(1)
    return {} if pair is None else {"local": pair.local_candidate.type, "remote": pair.remote_candidate.type}


async def main(role: str, iceServers: list[dict[str, Any]]) -> None:
    loop = asyncio.get_running_loop()
    readLine = lambda: loop.run_in_executor(None, sys.stdin.readline)  # noqa: E731
    connection = RTCConnection(iceServers=iceServers)
    if role == "offer":
        print(json.dumps(await connection.getLocalDescription()), flush=True)
        await connection.setRemoteDescription(json.loads(await readLine()))
    else:
        print(json.dumps(await connection.getLocalDescription(json.loads(await readLine()))), flush=True)
    try:
        await asyncio.wait_for(connection.onReady(), 30)
        result = {"connected": True, **_selectedPair(connection)}
    except (asyncio.TimeoutError, Exception) as error:
        result = {"connected": False, "error": type(error).__name__}
    print(json.dumps(result), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    await connection.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
