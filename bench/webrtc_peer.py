"""One end of a WebRTC benchmark run, as its own process (see bench_webrtc.py): the sending
end draws the test pattern at 30 fps and notes each frame number's capture time, the
receiving end notes when each frame number came out of the decoder. Signalling and results
are JSON lines on stdin/stdout. Three implementations:

  rtcbot     this project: SyntheticCamera -> RTCConnection.video -> RTCConnection
  rtcbot025  RTCBot 0.2.5's RTCConnection (run with the python of a venv that has it)
  aiortc     aiortc's plain recipe: a VideoStreamTrack fed from a queue, track.recv() at the far end

It imports no rtcbot_tools, so that it runs beside RTCBot 0.2.5 (whose package is also
called rtcbot); the test pattern comes from this checkout's testpattern.py, by path.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

_spec = importlib.util.spec_from_file_location(
    "benchpattern", Path(__file__).resolve().parents[1] / "rtcbot" / "devices" / "testpattern.py"
)
assert _spec is not None and _spec.loader is not None
pattern = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pattern)

FPS = 30.0


def _line(loop: asyncio.AbstractEventLoop) -> Any:
    return loop.run_in_executor(None, sys.stdin.readline)


def _say(value: Any) -> None:
    print(json.dumps(value), flush=True)


async def _drawFrames(queue: asyncio.Queue[Any], size: tuple[int, int], captured: dict[int, int]) -> None:
    """The test pattern at 30 fps, on a fixed schedule, into ``queue`` (never dropped)."""
    width, height = size
    loop = asyncio.get_running_loop()
    start = loop.time()
    number = 0
    while True:
        await asyncio.sleep(max(0.0, start + number / FPS - loop.time()))
        frame = np.empty((height, width, 3), np.uint8)
        now = time.monotonic_ns()
        pattern.drawPattern(frame, number, now)
        captured[number] = now
        queue.put_nowait(frame)
        number += 1


def _noteDecoded(decoded: dict[int, int], picture: Any, at: int) -> None:
    top, bottom = pattern.decodeStamp(picture)
    if top == bottom:
        decoded.setdefault(top, at)


async def _sendOurs(size: tuple[int, int], seconds: float) -> dict[int, int]:
    from rtcbot import SyntheticCamera
    from rtcbot.webrtc import RTCConnection

    captured: dict[int, int] = {}
    camera = SyntheticCamera(size[0], size[1], fps=FPS)
    camera.subscribe(lambda frame: captured.__setitem__(pattern.decodeStamp(frame)[0], frame.timestamp))
    connection = RTCConnection(videoCodec="VP8")
    connection.video.putSubscription(camera)
    _say(await connection.getLocalDescription())
    await connection.setRemoteDescription(json.loads(await _line(asyncio.get_running_loop())))
    await asyncio.sleep(seconds)
    await connection.close()
    camera.close()
    await camera
    return captured


async def _receiveOurs() -> dict[int, int]:
    from rtcbot.webrtc import RTCConnection

    decoded: dict[int, int] = {}
    connection = RTCConnection()
    connection.video.subscribe(lambda picture: _noteDecoded(decoded, picture, picture.receivedNs))
    loop = asyncio.get_running_loop()
    _say(await connection.getLocalDescription(json.loads(await _line(loop))))
    await _line(loop)  # the coordinator's "stop"
    await connection.close()
    return decoded


async def _sendRtcbot025(size: tuple[int, int], seconds: float) -> dict[int, int]:
    from aiortc import RTCConfiguration

    from rtcbot import RTCConnection  # RTCBot 0.2.5's, in its own venv

    captured: dict[int, int] = {}
    queue: asyncio.Queue[Any] = asyncio.Queue()
    connection = RTCConnection(rtcConfiguration=RTCConfiguration(iceServers=[]))
    connection.video.putSubscription(queue)
    drawing = asyncio.ensure_future(_drawFrames(queue, size, captured))
    _say(await connection.getLocalDescription())
    await connection.setRemoteDescription(json.loads(await _line(asyncio.get_running_loop())))
    await asyncio.sleep(seconds)
    drawing.cancel()
    await connection.close()
    return captured


async def _receiveRtcbot025() -> dict[int, int]:
    from aiortc import RTCConfiguration

    from rtcbot import RTCConnection

    decoded: dict[int, int] = {}
    connection = RTCConnection(rtcConfiguration=RTCConfiguration(iceServers=[]))
    frames = connection.video.subscribe()

    async def read() -> None:
        while True:
            picture = await frames.get()
            _noteDecoded(decoded, picture[:, :, ::-1], time.monotonic_ns())  # RTCBot gives RGB

    reading = asyncio.ensure_future(read())
    loop = asyncio.get_running_loop()
    _say(await connection.getLocalDescription(json.loads(await _line(loop))))
    await _line(loop)
    reading.cancel()
    await connection.close()
    return decoded


async def _sendAiortc(size: tuple[int, int], seconds: float) -> dict[int, int]:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
    from av import VideoFrame

    class QueueTrack(VideoStreamTrack):
        """aiortc's examples' way: frames from a queue, paced by next_timestamp()."""

        def __init__(self, queue: asyncio.Queue[Any]) -> None:
            super().__init__()
            self.queue = queue

        async def recv(self) -> VideoFrame:
            pts, timeBase = await self.next_timestamp()
            frame = VideoFrame.from_ndarray(await self.queue.get(), format="bgr24")
            frame.pts, frame.time_base = pts, timeBase
            return frame

    captured: dict[int, int] = {}
    queue: asyncio.Queue[Any] = asyncio.Queue()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(QueueTrack(queue))
    drawing = asyncio.ensure_future(_drawFrames(queue, size, captured))
    await pc.setLocalDescription(await pc.createOffer())
    _say({"sdp": pc.localDescription.sdp, "type": pc.localDescription.type})
    await pc.setRemoteDescription(RTCSessionDescription(**json.loads(await _line(asyncio.get_running_loop()))))
    await asyncio.sleep(seconds)
    drawing.cancel()
    await pc.close()
    return captured


async def _receiveAiortc() -> dict[int, int]:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    decoded: dict[int, int] = {}
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    readers: list[asyncio.Future[None]] = []

    async def read(track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            _noteDecoded(decoded, frame.to_ndarray(format="bgr24"), time.monotonic_ns())

    pc.on("track", lambda track: readers.append(asyncio.ensure_future(read(track))))
    loop = asyncio.get_running_loop()
    await pc.setRemoteDescription(RTCSessionDescription(**json.loads(await _line(loop))))
    await pc.setLocalDescription(await pc.createAnswer())
    _say({"sdp": pc.localDescription.sdp, "type": pc.localDescription.type})
    await _line(loop)
    for reader in readers:
        reader.cancel()
    await pc.close()
    return decoded


def _cpuSeconds() -> float:
    """CPU time of this process and of its children that have ended (a camera's)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


async def main(impl: str, role: str, size: tuple[int, int], seconds: float) -> None:
    """Plays one end and prints its per-frame times and CPU use as the last line."""
    started, wall = _cpuSeconds(), time.monotonic()
    if role == "send":
        senders = {"rtcbot": _sendOurs, "rtcbot025": _sendRtcbot025, "aiortc": _sendAiortc}
        times = await senders[impl](size, seconds)
    else:
        receivers = {"rtcbot": _receiveOurs, "rtcbot025": _receiveRtcbot025, "aiortc": _receiveAiortc}
        times = await receivers[impl]()
    _say({"times": times, "cpu": _cpuSeconds() - started, "wall": time.monotonic() - wall})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one end of a WebRTC benchmark run")
    parser.add_argument("--impl", choices=("rtcbot", "rtcbot025", "aiortc"), required=True)
    parser.add_argument("--role", choices=("send", "receive"), required=True)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--seconds", type=float, default=6.0)
    options = parser.parse_args()
    width, height = (int(part) for part in options.size.split("x"))
    asyncio.run(main(options.impl, options.role, (width, height), options.seconds))
