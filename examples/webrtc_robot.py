"""A robot you watch and drive from a browser: its camera and microphone in the page, the
arrow keys back to the robot, printed as they arrive, and "stop" within a second when the
page's link is lost. The page reconnects by itself when the link comes back.

Run: .venv/bin/python examples/webrtc_robot.py [--port 8080] [--token T] [--synthetic] [--seconds N]
and open the address it prints (the token is in it). Without --token a random one is made.
The camera is /dev/video0 if the machine has one, the microphone the default input; with
--synthetic (or without a camera) the synthetic camera and a 440 Hz tone stand in.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from typing import Any

from rtcbot import CVCamera, Microphone, SyntheticCamera, SyntheticMicrophone, Watchdog
from rtcbot.webrtc import RTCConnection
from rtcbot.webrtc.signalling import WebRTCServer

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>rtcbot robot</title></head>
<body>
<p id="status">connecting</p>
<video id="video" autoplay playsinline muted></video>
<audio id="audio" autoplay></audio>
<p>Drive with the arrow keys.</p>
<script src="/rtcbot.js"></script>
<script>
"use strict";
const status = (text) => { document.getElementById("status").textContent = text; };
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
// A new connection each time the link comes back; the robot closes this page's last one.
const session = Math.random().toString(36).slice(2) + Date.now().toString(36);  // crypto.randomUUID needs https
const link = new rtcbot.ReconnectingConnection((conn) => {
  conn.video.subscribe((stream) => { document.getElementById("video").srcObject = stream; });
  conn.audio.subscribe((stream) => { document.getElementById("audio").srcObject = stream; });
}, rtcbot.postOffer("/connect", token, session));
link.onState(status);
const arrows = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"];
for (const [event, pressed] of [["keydown", true], ["keyup", false]]) {
  document.addEventListener(event, (e) => {
    if (arrows.includes(e.key) && !e.repeat) { e.preventDefault(); link.put_nowait({ key: e.key, pressed: pressed }); }
  });
}
</script>
</body></html>
"""


#: What the robot does when the page's link is lost (the watchdog's safe value).
STOP = {"stop": True}


def drive(command: Any) -> None:
    """The robot's motors, here a print: ``key ArrowUp down``, or ``stop`` when the link is lost."""
    if command == STOP:
        print("stop", flush=True)
    elif isinstance(command, dict) and isinstance(command.get("key"), str):
        print(f"key {command['key']} {'down' if command.get('pressed') else 'up'}", flush=True)


async def main(host: str, port: int, token: str | None, synthetic: bool, seconds: float | None) -> None:
    if synthetic or not os.path.exists("/dev/video0"):
        camera: Any = SyntheticCamera(640, 480, fps=30)
    else:
        camera = CVCamera(640, 480)
    microphone: Any = SyntheticMicrophone(frequency=440, amplitude=0.3, blocksize=960) if synthetic else Microphone()

    def setUp(connection: RTCConnection) -> None:
        connection.video.putSubscription(camera)
        connection.audio.putSubscription(microphone)
        watchdog = Watchdog(STOP, timeout=None, link=connection)  # keys come only when they change
        watchdog.putSubscription(connection)
        watchdog.subscribe(drive)
        connection.onClose(watchdog.close)

    server = WebRTCServer(PAGE, setUp, token=token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await server.start(host, port)
    print(f"open {server.pageAddress()}", flush=True)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
    finally:
        await server.close()
        camera.close()
        microphone.close()
        await asyncio.gather(camera, microphone)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0", help="address to serve on (default: all)")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free one)")
    parser.add_argument("--token", help="the token the page must give (default: a random one, printed)")
    parser.add_argument("--synthetic", action="store_true", help="synthetic camera and tone instead of devices")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    options = parser.parse_args()
    asyncio.run(main(options.host, options.port, options.token, options.synthetic, options.seconds))
