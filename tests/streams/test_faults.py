"""Programs that die, stall or restart: the others are not disturbed, nothing is lost."""

from __future__ import annotations

import asyncio
import gc
import itertools
import signal
import socket
import time

import pytest

import rtcbot
from rtcbot import SyntheticCamera
from rtcbot.streams import PublisherGone

from .launcher import Programs, attachedFrameShape
from .programs import rtcbotMappings

pytestmark = pytest.mark.loop_timeout(25)


async def _waitFor(condition: object, timeout: float, what: str) -> float:
    """Seconds until ``condition()`` holds, checked every millisecond (a measurement)."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.001)
    return time.monotonic() - started


def _consecutive(frames: list[dict[str, object]]) -> bool:
    sequences = [frame["seq"] for frame in frames]
    return sequences == list(range(int(sequences[0]), int(sequences[0]) + len(sequences)))  # type: ignore[call-overload]


async def test_a_killed_program_gives_its_slots_back_within_100_ms_and_the_others_see_no_gap() -> None:
    camera = SyntheticCamera(160, 120, fps=60, slotCount=10)
    publication = camera.publish("front", slotsPerProgram=3)
    async with Programs() as programs:
        holder = await programs.start("attach", "front", "--count", "1000", "--hold", "3")
        watcher = await programs.start("attach", "front", "--count", "90")
        await holder.until("holding", timeout=10)
        before = await watcher.frames(20, timeout=10)

        def holderHolds() -> int:
            return sum(program.held for program in publication.statistics().programs if program.pid == holder.pid)

        def heldByPrograms() -> int:
            return camera.statistics().fromChild.slotsHeldByPrograms

        await _waitFor(lambda: holderHolds() == 3 and heldByPrograms() >= 3, 2, "the holder holding 3 frames")
        holder.kill(signal.SIGKILL)
        killedAt = time.monotonic()
        returned = await _waitFor(lambda: heldByPrograms() <= 2, 1, "slot return")  # the watcher's, if any
        assert returned < 0.1, f"the killed program's slots came back after {returned * 1000:.0f} ms"
        print(f"a killed program's slots came back after {returned * 1000:.1f} ms")
        assert all(program.pid != holder.pid for program in publication.statistics().programs)
        after = await watcher.frames(70, timeout=10)
        assert time.monotonic() - killedAt < 10
        assert _consecutive(before + after), "the other program saw a gap"
        assert camera.statistics().fromChild.dropped["slotsFull"] == 0
    publication.close()
    camera.close()
    await publication
    await camera


async def test_a_killed_programs_slots_come_back_within_100_ms_from_a_slow_camera_too() -> None:
    """At 4 fps the next frame is up to 250 ms away: the capture child takes the slots back
    while it waits for it, not when it comes."""
    camera = SyntheticCamera(64, 48, fps=4, slotCount=6)
    publication = camera.publish("slow", slotsPerProgram=2)
    async with Programs() as programs:
        holder = await programs.start("attach", "slow", "--count", "1000", "--hold", "2")
        await holder.until("holding", timeout=10)

        def heldByPrograms() -> int:
            return camera.statistics().fromChild.slotsHeldByPrograms

        await _waitFor(lambda: heldByPrograms() == 2, 2, "the holder holding 2 frames")
        await asyncio.sleep(0.05)  # a little into the wait for the next frame (a measurement)
        holder.kill(signal.SIGKILL)
        returned = await _waitFor(lambda: heldByPrograms() == 0, 1, "slot return")
        assert returned < 0.1, f"the killed program's slots came back after {returned * 1000:.0f} ms"
    publication.close()
    camera.close()
    await publication
    await camera


async def test_a_slow_program_sees_fewer_newer_frames_and_slows_nobody() -> None:
    camera = SyntheticCamera(160, 120, fps=60)
    publication = camera.publish("front")
    async with Programs() as programs:
        slow = await programs.start("attach", "front", "--count", "8", "--delay", "0.25")
        fast = await programs.start("attach", "front", "--count", "120")

        def slowSkipped() -> int:
            return sum(program.skipped for program in publication.statistics().programs if program.pid == slow.pid)

        await _waitFor(lambda: slowSkipped() > 0, 5, "the publisher skipping the slow program")
        fastFrames = await fast.frames(120, timeout=15)
        slowFrames = await slow.frames(8, timeout=15)
        slowEnd = await slow.until("done")
    assert _consecutive(fastFrames), "the fast program lost frames to the slow one"
    gaps = [b["seq"] - a["seq"] for a, b in itertools.pairwise(slowFrames)]
    # it holds 2 frames at most: the one it works on and the next; newer ones skip it
    assert min(gaps[1:]) > 1, f"the slow program got every frame ({gaps}): it was not skipped"
    assert slowEnd["statistics"]["missed"] > 0 and slowEnd["statistics"]["gaps"] > 0
    assert camera.statistics().fromChild.dropped["slotsFull"] == 0, "the publisher ran out of slots"
    publication.close()
    camera.close()
    await publication
    await camera


async def test_a_killed_publisher_is_an_error_within_100_ms_and_its_memory_is_let_go() -> None:
    async with Programs() as programs:
        publisher = await programs.start("publish", "front")
        await publisher.until("ready", timeout=10)
        stream = rtcbot.attach("front", reattach=False)
        errors: list[BaseException] = []
        stream.onError(errors.append)
        frame = await asyncio.wait_for(stream.get(), 5)
        assert rtcbotMappings() >= 1
        publisher.kill(signal.SIGKILL)
        killedAt = time.monotonic()
        await asyncio.wait_for(stream.onClose(), 5)
        took = time.monotonic() - killedAt
        assert took < 0.1, f"the attached stream noticed after {took * 1000:.0f} ms"
        print(f"an attached program saw its publisher's death after {took * 1000:.1f} ms")
        assert len(errors) == 1 and isinstance(errors[0], PublisherGone), errors
        assert f"pid {publisher.pid}" in str(errors[0])
        assert frame.shape == (120, 160, 3) and int(frame[0, 0, 0]) >= 0  # a held frame stays readable
        await stream
        del frame
        gc.collect()
        assert rtcbotMappings() == 0, "memory of the dead publisher is still mapped"
        with pytest.raises(rtcbot.ProducerClosed):
            await stream.get()
    # the dead publisher left its socket: the next publisher replaces it
    camera = SyntheticCamera(64, 48, fps=60)
    async with camera.publish("front"):
        pass
    camera.close()
    await camera


async def test_a_restarted_publisher_is_reattached_with_ready_again_and_the_gap_counted() -> None:
    stream = rtcbot.attach("front")
    readies: list[None] = []
    stream.onReady(lambda: readies.append(None))
    async with Programs() as programs:
        first = await programs.start("publish", "front")
        frame = await asyncio.wait_for(stream.get(), 10)
        firstPid = stream.statistics().publisherPid
        assert firstPid == first.pid
        del frame
        first.kill(signal.SIGKILL)
        await first.exitCode()
        await _waitFor(lambda: not stream.ready, 1, "ready turning False")
        second = await programs.start("publish", "front")
        await asyncio.wait_for(stream.onReady(), 10)
        frame = await asyncio.wait_for(stream.get(), 5)
        statistics = stream.statistics()
        assert statistics.publisherPid == second.pid and statistics.attachments == 2
        assert statistics.gaps == 1, "the break between the two publishers was not counted"
        assert len(readies) == 2, "onReady did not fire again"
        del frame
        second.kill(signal.SIGTERM)  # a clean close: the stream waits again, no error
        assert (await second.until("done"))["done"]
        await second.exitCode()
        await _waitFor(lambda: not stream.ready, 2, "ready turning False")
        assert stream.error is None and not stream.closed
    stream.close()
    await stream


async def test_a_stale_socket_is_replaced() -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(rtcbot.streams.streamDirectory() / "front.sock"))
    stale.close()  # the file stays, nobody listens: as after a crash
    camera = SyntheticCamera(64, 48, fps=60)
    async with camera.publish("front"):
        assert await attachedFrameShape("front") == (48, 64, 3)
    camera.close()
    await camera
