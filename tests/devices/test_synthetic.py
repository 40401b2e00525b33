"""SyntheticCamera and its test pattern: real child process, real shared memory."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from rtcbot import Frame, MostRecentSubscription, SubscriptionClosed, SyntheticCamera
from rtcbot.devices.testpattern import decodeStamp, drawPattern
from rtcbot_tools.usage import residentMb

from .memory import inSharedMemory, memfdRegions


@pytest.mark.parametrize("number", [0, 1, 12345, 2**31 + 7, 2**32 - 1])
def test_the_drawn_number_reads_back(number: int) -> None:
    frame = np.zeros((120, 160, 3), np.uint8)
    drawPattern(frame, number, 123_456_789_000)
    assert decodeStamp(frame) == (number, number)


def test_a_torn_frame_reads_back_as_two_numbers() -> None:
    first, second = np.zeros((120, 160, 3), np.uint8), np.zeros((120, 160, 3), np.uint8)
    drawPattern(first, 41, 0)
    drawPattern(second, 42, 0)
    torn = np.concatenate([first[:60], second[60:]])
    assert decodeStamp(torn) == (41, 42)


def test_the_pattern_moves_from_frame_to_frame() -> None:
    first, second = np.zeros((120, 160, 3), np.uint8), np.zeros((120, 160, 3), np.uint8)
    drawPattern(first, 1, 0)
    drawPattern(second, 2, 0)
    middle = slice(40, 80)
    assert not np.array_equal(first[middle], second[middle])


@pytest.mark.parametrize(
    "arguments, message",
    [({"width": 32}, "at least"), ({"height": 10}, "at least"), ({"fps": -1}, "fps"), ({"frames": -2}, "frames")],
)
def test_bad_settings_are_refused_before_any_process_starts(arguments: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticCamera(**arguments)


async def test_every_frame_shows_its_own_sequence_number_and_lies_in_shared_memory() -> None:
    camera = SyntheticCamera(320, 240, fps=0, frames=200, slotCount=4)
    seen: list[tuple[int, tuple[int, int], tuple[int, ...]]] = []
    inMemfd: list[bool] = []
    finished = asyncio.get_running_loop().create_future()
    regions = []

    def onFrame(frame: Frame) -> None:
        seen.append((frame.sequence, decodeStamp(frame), frame.shape))
        if not regions:
            regions.extend(memfdRegions())
        inMemfd.append(inSharedMemory(frame, regions))

    camera.subscribe(onFrame)
    camera.onClose(lambda: finished.set_result(None))
    await asyncio.wait_for(finished, 20)
    await asyncio.wait_for(camera, 10)
    sequences = [sequence for sequence, _, _ in seen]
    assert sequences == sorted(set(sequences)), "in order, each once"
    dropped = camera.statistics().fromChild.dropped["slotsFull"]
    assert len(seen) + dropped == 200, "flat out, frames are dropped when slots are busy, and counted"
    assert all(stamp == (sequence, sequence) for sequence, stamp, _ in seen), "no torn frame"
    assert {shape for _, _, shape in seen} == {(240, 320, 3)}
    assert all(inMemfd)


async def test_a_slow_reader_of_the_default_subscription_gets_newer_frames_never_older_ones() -> None:
    camera = SyntheticCamera(160, 120, fps=200)
    numbers = []
    for _ in range(5):
        frame = await asyncio.wait_for(camera.get(), 10)
        assert isinstance(frame, Frame) and decodeStamp(frame)[0] == frame.sequence
        numbers.append(frame.sequence)
        del frame
        await asyncio.sleep(0.02)
    camera.close()
    await asyncio.wait_for(camera, 10)
    assert numbers == sorted(numbers) and len(set(numbers)) == 5
    assert numbers[-1] - numbers[0] > 4, "frames were skipped while the reader was busy"


async def test_frames_are_paced_at_the_requested_rate_by_their_capture_times() -> None:
    camera = SyntheticCamera(160, 120, fps=50, frames=25, defaultSubscriptionClass=asyncio.Queue)
    stamps = []
    while True:
        try:
            frame = await asyncio.wait_for(camera.get(), 10)
        except SubscriptionClosed:
            break
        stamps.append(frame.timestamp)
        del frame
    await asyncio.wait_for(camera, 10)
    intervals = np.diff(stamps) / 1e6
    assert len(stamps) == 25
    assert 16 <= float(np.median(intervals)) <= 24, intervals


def test_the_default_subscription_keeps_only_the_latest_frame() -> None:
    camera = SyntheticCamera(frames=0)
    assert isinstance(camera.subscribe(), MostRecentSubscription)
    camera.close()


@pytest.mark.loop_timeout(40)
async def test_three_subscribers_at_1080p30_for_10_s_see_no_torn_frame_and_memory_stays_flat() -> None:
    camera = SyntheticCamera(1920, 1080, fps=30)
    torn: list[tuple[int, tuple[int, int]]] = []
    counts = [0, 0, 0]

    def check(index: int, frame: Frame) -> None:
        stamp = decodeStamp(frame)
        if stamp != (frame.sequence, frame.sequence):
            torn.append((frame.sequence, stamp))
        counts[index] += 1

    async def coroutineSubscriber(frame: Frame) -> None:
        check(1, frame)

    async def latestReader(subscription: MostRecentSubscription) -> None:
        while True:
            frame = await subscription.get()
            check(2, frame)
            del frame

    camera.subscribe(lambda frame: check(0, frame))
    camera.subscribe(coroutineSubscriber)
    reader = asyncio.ensure_future(latestReader(camera.subscribe(MostRecentSubscription())))
    try:
        await camera.onReady()
        await _framesLater(camera, 30)  # one second of warm-up
        startCounts, residentAtStart = list(counts), residentMb()
        await _framesLater(camera, 300)
        endCounts, residentAtEnd = list(counts), residentMb()
    finally:
        reader.cancel()
        camera.close()
        await camera
    assert not torn, f"torn frames (sequence, (top, bottom)): {torn[:5]}"
    delivered = [end - start for start, end in zip(startCounts, endCounts, strict=True)]
    assert min(delivered[:2]) >= 295, f"the callback subscribers saw every frame of 10 s: {delivered}"
    assert delivered[2] >= 150, f"the latest-frame reader kept up: {delivered}"
    assert camera.statistics().fromChild.dropped["slotsFull"] == 0
    growth = residentAtEnd - residentAtStart
    assert growth < 16, f"resident memory grew by {growth:.1f} MB in 10 s"


async def _framesLater(camera: SyntheticCamera, frames: int) -> None:
    """Waits until the camera has published ``frames`` more frames."""
    subscription = camera.subscribe(asyncio.Queue())
    try:
        for _ in range(frames):
            await subscription.get()
    finally:
        camera.unsubscribe(subscription)
