"""How fast a vanished peer is noticed: an RTCConnection here, its peer in another process
(sending the synthetic camera, as a robot does), made to vanish ``--tries`` times each way:
SIGKILL (the process is gone), SIGSTOP (it hangs), and, as root, its link cut (the peer in a
network namespace, its veth set down). With Chromium (bench.chromium), rtcbot.js
in a page too: its tab closed (Python notices), and the robot it talks to killed (the page
notices). Prints p50 and max of the time from the vanishing to ``onClose``, and the
heartbeat's rate; WebRTC's own checks (aioice's consent, 30 s) are the baseline, measured
once with heartbeats off (``--baseline``).

    python -m bench.liveness [--tries 20] [--baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

from rtcbot import SyntheticCamera
from rtcbot.webrtc import RTCConnection
from rtcbot.webrtc.signalling import getRTCBotJS

from . import CHECKOUT, chromium

NAMESPACE = "rtcbot-bench-liveness"
HERE, THERE, VETH = "10.232.0.1", "10.232.0.2", "rtbbench"
#: Heartbeats so slow they never decide: what WebRTC alone notices.
NO_HEARTBEATS = {"heartbeatInterval": 3600.0, "deadAfter": 7200.0}


async def peer(options: dict[str, Any]) -> None:
    """The far end: answers the offer on stdin with a camera, then waits to be made to vanish."""
    camera = SyntheticCamera(320, 240, fps=30)  # first: forked before any helper thread runs
    loop = asyncio.get_running_loop()
    offer = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    connection = RTCConnection(**options)
    connection.video.putSubscription(camera)
    print(json.dumps(await connection.getLocalDescription(offer)), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    await connection.close()
    camera.close()


def _namespace(create: bool) -> None:
    """Deletes the benchmark's namespace (what a run cut short left), then makes it afresh."""
    for argv in (["ip", "link", "del", VETH + "a"], ["ip", "netns", "del", NAMESPACE]):
        subprocess.run(argv, capture_output=True, timeout=10)
    if create:
        for argv in (
            ["ip", "netns", "add", NAMESPACE],
            ["ip", "link", "add", VETH + "a", "type", "veth", "peer", "name", VETH + "b"],
            ["ip", "link", "set", VETH + "b", "netns", NAMESPACE],
            ["ip", "addr", "add", HERE + "/24", "dev", VETH + "a"],
            ["ip", "link", "set", VETH + "a", "up"],
            ["ip", "netns", "exec", NAMESPACE, "ip", "addr", "add", THERE + "/24", "dev", VETH + "b"],
            ["ip", "netns", "exec", NAMESPACE, "ip", "link", "set", VETH + "b", "up"],
        ):
            subprocess.run(argv, check=True, capture_output=True, timeout=10)


def _setLink(up: bool) -> None:
    argv = ["ip", "netns", "exec", NAMESPACE, "ip", "link", "set", VETH + "b", "up" if up else "down"]
    subprocess.run(argv, check=True, capture_output=True, timeout=10)


class FarPeer:
    """The far end (``--peer``) in a process of its own, in the benchmark's namespace when
    asked; ended by SIGKILL if it is still there."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process, self._stdin, self._stdout = process, process.stdin, process.stdout

    @classmethod
    async def start(cls, options: dict[str, Any], inNamespace: bool = False) -> FarPeer:
        """Starts the far end; its connection is made with ``options``."""
        command = [sys.executable, "-m", "bench.liveness", "--peer", json.dumps(options)]
        if inNamespace:
            command = ["ip", "netns", "exec", NAMESPACE, *command]
        process = await asyncio.to_thread(
            subprocess.Popen,
            command,
            cwd=CHECKOUT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        return cls(process)

    async def answer(self, offer: dict[str, Any]) -> dict[str, Any]:
        """Its answer to ``offer``."""
        self._stdin.write(json.dumps(offer) + "\n")
        self._stdin.flush()
        answer: dict[str, Any] = json.loads(await asyncio.to_thread(self._stdout.readline))
        return answer

    async def end(self) -> None:
        """Kills it if it is still there, and waits for it."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, 10)
        self._stdin.close()
        self._stdout.close()


async def vanishOnce(how: str, options: dict[str, Any], limit: float) -> tuple[float, float]:
    """One connection, its peer made to vanish ``how`` ("killed", "hung", "link cut");
    (seconds until onClose, heartbeats sent per second while it lived)."""
    far = await FarPeer.start(options, inNamespace=how == "link cut")
    connection = RTCConnection(**options)
    connection.video.subscribe()
    try:
        await connection.setRemoteDescription(await far.answer(await connection.getLocalDescription()))
        await asyncio.wait_for(connection.onReady(), 20)
        await asyncio.sleep(2)  # video flowing, heartbeats steady
        before = connection.livenessStatistics().sent
        await asyncio.sleep(2)
        rate = (connection.livenessStatistics().sent - before) / 2
        if how == "link cut":
            await asyncio.to_thread(_setLink, False)
        else:
            os.kill(far.process.pid, signal.SIGKILL if how == "killed" else signal.SIGSTOP)
        vanished = time.monotonic()
        await asyncio.wait_for(connection.onClose(), limit)
        return time.monotonic() - vanished, rate
    finally:
        await connection.close()
        await far.end()
        if how == "link cut":
            await asyncio.to_thread(_setLink, True)


#: The page's side: rtcbot.js offering to receive video; notes when onClose came (epoch ms).
PAGE_OFFER = """async () => {
  window.closedAt = null;
  window.conn = new rtcbot.RTCConnection();
  conn.video.subscribe(() => {});
  conn.onClose(() => { window.closedAt = Date.now(); });
  return await conn.getLocalDescription();
}"""


async def _pageOffer(page: Any) -> dict[str, Any]:
    await page.add_script_tag(content=getRTCBotJS())
    offer: dict[str, Any] = await page.evaluate(PAGE_OFFER)
    return offer


async def tabClosedOnce(context: Any, camera: SyntheticCamera, limit: float) -> float:
    """A page receiving the camera here has its tab closed: seconds until onClose here."""
    page = await context.new_page()
    connection = RTCConnection()
    connection.video.putSubscription(camera)
    try:
        answer = await connection.getLocalDescription(await _pageOffer(page))
        await page.evaluate("(answer) => conn.setRemoteDescription(answer)", answer)
        await asyncio.wait_for(connection.onReady(), 20)
        await asyncio.sleep(2)  # video flowing, heartbeats steady
        await page.close()
        vanished = time.monotonic()
        await asyncio.wait_for(connection.onClose(), limit)
        return time.monotonic() - vanished
    finally:
        await connection.close()
        if not page.is_closed():
            await page.close()


async def robotKilledOnce(context: Any, limit: float) -> float:
    """A page receiving a camera from a robot in another process; the robot is SIGKILLed:
    seconds until the page's onClose."""
    page = await context.new_page()
    far = await FarPeer.start({})
    try:
        answer = await far.answer(await _pageOffer(page))
        await page.evaluate("(answer) => conn.setRemoteDescription(answer)", answer)
        await page.evaluate("() => conn.onReady()")
        await asyncio.sleep(2)
        vanished = time.time()
        os.kill(far.process.pid, signal.SIGKILL)
        await page.wait_for_function("window.closedAt !== null", timeout=limit * 1000)
        closedAt: float = await page.evaluate("window.closedAt")
        return closedAt / 1000 - vanished
    finally:
        await page.close()
        await far.end()


async def browserVanishings(tries: int, limit: float) -> dict[str, list[float]]:
    """``tries`` of each way a browser's link vanishes (none without Chromium)."""
    times: dict[str, list[float]] = {"tab closed": [], "robot killed (page notices)": []}
    camera = SyntheticCamera(320, 240, fps=30, startMethod="forkserver")  # helper threads run by now
    try:
        async with chromium.chromiumPage() as first:
            for _ in range(tries):
                times["tab closed"].append(await tabClosedOnce(first.context, camera, limit))
                times["robot killed (page notices)"].append(await robotKilledOnce(first.context, limit))
    except chromium.BrowserUnavailable as error:
        print(f"no browser kinds: {error}", flush=True)
        return {}
    finally:
        camera.close()
        await camera
    return times


async def soak(seconds: float, busyCores: int) -> dict[str, Any]:
    """A peer sending video for ``seconds`` while ``busyCores`` processes spin: how many
    false alarms (degraded, gone) and the longest silence between heartbeats."""
    spinners = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import time\nend = time.monotonic() + {seconds + 30}\nwhile time.monotonic() < end: pass",
            ]
        )
        for _ in range(busyCores)
    ]
    far = await FarPeer.start({})
    connection = RTCConnection()
    frames = connection.video.subscribe()
    degraded: list[float] = []
    connection.onDegraded(lambda: degraded.append(time.monotonic()))
    try:
        await connection.setRemoteDescription(await far.answer(await connection.getLocalDescription()))
        await asyncio.wait_for(connection.onReady(), 20)
        received, end = 0, time.monotonic() + seconds
        while time.monotonic() < end and not connection.closed:
            try:
                await asyncio.wait_for(frames.get(), 1)
                received += 1
            except TimeoutError:
                pass
        result = {
            "seconds": seconds,
            "busyCores": busyCores,
            "framesReceived": received,
            "degraded": len(degraded),
            "gone": connection.closed,
            "longestSilence": connection.livenessStatistics().longestSilence,
            "stalls": connection.livenessStatistics().stalls,
        }
        print(
            f"soak {seconds:.0f} s, {busyCores} busy cores: {received} frames, {len(degraded)} degraded, "
            f"gone: {connection.closed}, longest silence {result['longestSilence']:.3f} s",
            flush=True,
        )
        return result
    finally:
        await connection.close()
        await far.end()
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


async def bench(tries: int, baseline: bool) -> dict[str, Any]:
    """Every way of vanishing, ``tries`` times each (plus the baseline once)."""
    kinds = ["killed", "hung"]
    if os.geteuid() == 0 and shutil.which("ip"):
        await asyncio.to_thread(_namespace, True)
        kinds.append("link cut")
    results: dict[str, Any] = {}
    try:
        for how in kinds:
            times, rates = [], []
            for _ in range(tries):
                noticed, rate = await vanishOnce(how, {}, 10)
                times.append(noticed)
                rates.append(rate)
            results[how] = {
                "p50": statistics.median(times),
                "max": max(times),
                "heartbeatsPerSecond": statistics.median(rates),
            }
            print(
                f"{how:10} p50 {results[how]['p50']:.3f} s  max {results[how]['max']:.3f} s  over {tries} "
                f"({results[how]['heartbeatsPerSecond']:.1f} one-byte heartbeats/s)",
                flush=True,
            )
        for how, times in (await browserVanishings(tries, 10)).items():
            results[how] = {"p50": statistics.median(times), "max": max(times)}
            print(
                f"{how:10} p50 {results[how]['p50']:.3f} s  max {results[how]['max']:.3f} s  over {tries}", flush=True
            )
        if baseline:
            noticed, _ = await vanishOnce("killed", NO_HEARTBEATS, 60)
            results["WebRTC alone (killed)"] = {"p50": noticed, "max": noticed}
            print(f"{'WebRTC alone':10} {noticed:.1f} s (once)", flush=True)
    finally:
        if "link cut" in kinds:
            await asyncio.to_thread(_namespace, False)
    return results


def main(argv: list[str] | None = None) -> None:
    """Runs the benchmark (or, with ``--peer OPTIONS``, the far end)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument(
        "--soak", type=float, metavar="SECONDS", help="instead: count false alarms over SECONDS of video"
    )
    parser.add_argument("--busy-cores", type=int, default=2)
    parser.add_argument("--peer", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.peer is not None:
        asyncio.run(peer(json.loads(arguments.peer)))
        return
    if arguments.soak is not None:
        print(json.dumps(asyncio.run(soak(arguments.soak, arguments.busy_cores))))
        return
    results = asyncio.run(bench(arguments.tries, arguments.baseline))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
