"""A robot you watch and drive from a browser: its camera and microphone in the page, the
arrow keys back to the robot, printed as they arrive.

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

from rtcbot import CVCamera, Microphone, SyntheticCamera, SyntheticMicrophone
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
const conn = new rtcbot.RTCConnection();
conn.video.subscribe((stream) => { document.getElementById("video").srcObject = stream; });
conn.audio.subscribe((stream) => { document.getElementById("audio").srcObject = stream; });
conn.onClose(() => status("disconnected"));
const arrows = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"];
for (const [event, pressed] of [["keydown", true], ["keyup", false]]) {
  document.addEventListener(event, (e) => {
    if (arrows.includes(e.key) && !e.repeat) { e.preventDefault(); conn.put_nowait({ key: e.key, pressed: pressed }); }
  });
}
async function connect() {
  const offer = await conn.getLocalDescription();
  const response = await fetch("/connect", {
    method: "POST", cache: "no-cache", body: JSON.stringify(offer),
    headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
  });
  if (!response.ok) throw new Error("the robot said " + response.status + ": " + (await response.text()));
  await conn.setRemoteDescription(await response.json());
  status("connected");
}
connect().catch((error) => status("failed: " + error.message));
</script>
</body></html>
"""


def printKey(message: Any) -> None:
    """Prints an arrow key the browser sent: ``key ArrowUp down``."""
    if isinstance(message, dict) and isinstance(message.get("key"), str):
        print(f"key {message['key']} {'down' if message.get('pressed') else 'up'}", flush=True)


async def main(host: str, port: int, token: str | None, synthetic: bool, seconds: float | None) -> None:
    if synthetic or not os.path.exists("/dev/video0"):
        camera: Any = SyntheticCamera(640, 480, fps=30)
    else:
        camera = CVCamera(640, 480)
    microphone: Any = SyntheticMicrophone(frequency=440, amplitude=0.3, blocksize=960) if synthetic else Microphone()

    def setUp(connection: RTCConnection) -> None:
        connection.video.putSubscription(camera)
        connection.audio.putSubscription(microphone)
        connection.subscribe(printKey)

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
