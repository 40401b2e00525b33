"""The robot's side of the TURN test, run in its own network namespace with the ICE servers
given as JSON: it reads the browser's offer as a JSON line on stdin and writes its answer
as one on stdout; then it says, as one JSON line, whether the connection opened within
``wait`` seconds, through which candidates (the ICE pair aioice nominated) and what the
browser answered to its greeting, and exits when stdin closes.

    python -m tests.webrtc.turnpeer ICE_SERVERS_JSON WAIT
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


async def main(iceServers: list[dict[str, Any]], wait: float) -> None:
    loop = asyncio.get_running_loop()
    connection = RTCConnection(iceServers=iceServers)
    offer = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    print(json.dumps(await connection.getLocalDescription(offer)), flush=True)
    try:
        await asyncio.wait_for(connection.onReady(), wait)
        connection.put_nowait("robot here")
        heard = await asyncio.wait_for(connection.get(), 10)
        result = {"connected": True, "heard": heard, **_selectedPair(connection)}
    except (TimeoutError, Exception) as error:
        result = {"connected": False, "error": type(error).__name__}
    print(json.dumps(result), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    await connection.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1]), float(sys.argv[2])))
