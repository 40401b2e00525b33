"""The Process* classes on the shared-memory transport: real child processes, real shared
memory (behaviour.md §3.10-3.12 with their defects fixed, and design.md's Frames and
Process lifecycle)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcbot import Frame, MostRecentSubscription, SubscriptionClosed
from rtcbot.base.multiprocess import ChildProcessDied, RemoteError, RemoteTraceback

from .._ticker import LoopTicker
from .processes import (
    ClaimingCamera,
    Counter,
    CpuReporter,
    Echo,
    Failing,
    FailingConsumer,
    FailingUnpicklably,
    FramePump,
    Holder,
    Idle,
    Recorder,
    ShapeShifter,
    Stubborn,
    stampOf,
)

START_METHODS = ["fork", "forkserver", "spawn"]


def _memfdRegions() -> list[tuple[int, int, str]]:
    regions = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        if "memfd:rtcbot-" in line:
            span, *_, name = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in span.split("-"))
            regions.append((start, end, name))
    return regions


# -- data arrives, in order, zero-copy -----------------------------------------------------


@pytest.mark.parametrize("startMethod", START_METHODS)
async def test_everything_a_child_sends_before_returning_arrives_in_order(
    startMethod: str, multiprocessingHelpers: None
) -> None:
    """Defect #10: RTCBot 0.2.5 delivered 1 of 100 items and left the object open."""
    counter = Counter(100, frameEvery=10, defaultAutosubscribe=True, startMethod=startMethod, slotCount=10)
    received = [await asyncio.wait_for(counter.get(), 10) for _ in range(110)]
    await asyncio.wait_for(counter, 10)
    numbers = [item for item in received if isinstance(item, int)]
    frames = [item for item in received if isinstance(item, Frame)]
    assert numbers == list(range(100))
    assert [stampOf(frame) for frame in frames] == list(range(0, 100, 10))
    framePositions = [index for index, item in enumerate(received) if isinstance(item, Frame)]
    assert framePositions == [11 * n + 1 for n in range(10)], "frames keep their place among items"
    assert counter.closed and counter.error is None
    with pytest.raises(SubscriptionClosed):
        await counter.get()
    del received, frames


async def test_a_delivered_frame_is_a_read_only_view_into_the_ring_shared_by_all_subscribers() -> None:
    pump = FramePump((120, 160, 3), limit=1)
    first, second = pump.subscribe(), pump.subscribe()
    frame = await asyncio.wait_for(first.get(), 10)
    other = await asyncio.wait_for(second.get(), 10)
    assert isinstance(frame, Frame) and other is frame
    address = frame.ctypes.data
    inside = [name for start, end, name in _memfdRegions() if start <= address and address + frame.nbytes <= end]
    assert inside and inside[0].startswith("/memfd:rtcbot-"), _memfdRegions()
    assert not frame.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        frame[0, 0, 0] = 1
    with pytest.raises(ValueError):
        frame.flags.writeable = True
    assert frame.sequence == 0 and stampOf(frame) == 0
    assert frame.timestamp <= frame.writtenNs <= frame.announcedNs <= frame.receivedNs <= time.monotonic_ns()
    private = frame.copy()
    assert private.flags.writeable and not np.shares_memory(private, frame)
    assert await asyncio.wait_for(first.get(), 10) == {"sent": 1}
    await asyncio.wait_for(pump, 10)
    del frame, other


async def test_a_claimed_slot_reaches_the_parent_without_any_copy() -> None:
    camera = ClaimingCamera(defaultAutosubscribe=True)
    for index in range(3):
        report = await asyncio.wait_for(camera.get(), 10)
        frame = await asyncio.wait_for(camera.get(), 10)
        assert int(frame[0, 0]) == index
        regions = [r for r in _memfdRegions() if r[0] <= frame.ctypes.data < r[1]]
        childOffset = report["address"] % os.sysconf("SC_PAGE_SIZE")
        assert regions and frame.ctypes.data % os.sysconf("SC_PAGE_SIZE") == childOffset
        del frame
    await asyncio.wait_for(camera, 10)


async def test_shape_and_dtype_changes_mid_stream_keep_old_frames_valid() -> None:
    shifter = ShapeShifter(defaultAutosubscribe=True)
    frames = []
    for _ in range(4):
        try:
            frames.append(await asyncio.wait_for(shifter.get(), 10))
        except SubscriptionClosed as closed:
            raise AssertionError(
                f"closed early: {shifter.error!r} {shifter.error.__cause__ if shifter.error else None}"
            ) from closed
    await asyncio.wait_for(shifter, 10)
    assert [(f.shape, f.dtype) for f in frames] == [
        ((4, 4), np.uint8),
        ((64, 64, 3), np.uint8),
        ((8,), np.float32),
        ((256, 256), np.uint16),
    ]
    assert [float(f.reshape(-1)[0]) for f in frames] == [1, 2, 3.5, 4]
    assert all(np.all(f == f.reshape(-1)[0]) for f in frames)
    del frames


async def test_a_view_of_a_frame_keeps_its_slot_and_a_copy_does_not() -> None:
    pump = FramePump((32, 32), limit=1, slotCount=1)
    queue = pump.subscribe()
    frame = await asyncio.wait_for(queue.get(), 10)
    view = frame[4:, 4:]
    assert pump.statistics().fromChild.slotsInUse == 1
    del frame
    assert pump.statistics().fromChild.slotsInUse == 1, "the view still uses the slot"
    copy = view.copy()
    del view
    assert pump.statistics().fromChild.slotsInUse == 0
    assert copy.shape == (28, 28)
    await asyncio.wait_for(pump, 10)


# -- back-pressure: held frames are never overwritten ----------------------------------------------


async def test_when_subscribers_hold_every_slot_the_child_drops_and_counts_without_blocking() -> None:
    pump = FramePump((64, 64), limit=60, slotCount=3)
    held: list[Frame] = []
    finished = asyncio.get_running_loop().create_future()
    pump.subscribe(lambda item: held.append(item) if isinstance(item, Frame) else finished.set_result(item))
    assert await asyncio.wait_for(finished, 10) == {"sent": 60}, "the child was never blocked"
    assert [stampOf(frame) for frame in held] == [frame.sequence for frame in held] == [0, 1, 2]
    stats = pump.statistics().fromChild
    assert stats.dropped["slotsFull"] == 57
    assert (stats.frames, stats.slotsInUse, stats.peakSlotsInUse, stats.slotCount) == (3, 3, 3, 3)
    held.clear()
    assert pump.statistics().fromChild.slotsInUse == 0
    await asyncio.wait_for(pump, 10)


def test_a_frame_held_by_a_subscriber_is_never_overwritten() -> None:
    """Random hold/release plans (hypothesis) against a child writing as fast as it can; each
    plan runs in its own event loop."""
    plans = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 6)), min_size=5, max_size=30)

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plans)
    def check(plan: list[tuple[int, int]]) -> None:
        asyncio.run(_holdAndRelease(plan))

    check()


async def _holdAndRelease(plan: list[tuple[int, int]]) -> None:
    pump = FramePump((48, 48), slotCount=4)
    latest = pump.subscribe(MostRecentSubscription())
    held: list[Frame] = []
    try:
        for release, take in plan:
            del held[:release]
            # Keep one slot for the frame the subscription holds unread, or nothing new comes.
            for _ in range(min(take, 3 - len(held))):
                frame = await asyncio.wait_for(latest.get(), 10)
                if isinstance(frame, Frame):
                    held.append(frame)
            frame = None
            assert all(stampOf(f) == f.sequence for f in held), "a held frame was overwritten"
        inUse = pump.statistics().fromChild.slotsInUse
        assert len(set(map(id, held))) <= inUse <= len(set(map(id, held))) + 1  # + one unread
    finally:
        held.clear()
        del latest
        pump.close()
        await asyncio.wait_for(pump, 10)


# -- errors and deaths ---------------------------------------------------------------------


async def test_an_exception_in_the_child_reaches_error_and_onError_once_and_closes() -> None:
    failing = Failing(defaultAutosubscribe=True)
    errors: list[BaseException] = []
    failing.onError(errors.append)
    assert await asyncio.wait_for(failing.get(), 10) == "before the failure"
    pending = asyncio.ensure_future(failing.get())
    error = await asyncio.wait_for(failing.onError(), 10)
    assert isinstance(error, ValueError) and str(error) == "sensor on fire"
    assert isinstance(error.__cause__, RemoteTraceback)
    assert "_producer" in error.__cause__.text and "sensor on fire" in error.__cause__.text
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(pending, 10)
    await asyncio.wait_for(failing, 10)
    assert errors == [error] and failing.closed


async def test_an_exception_that_cannot_be_pickled_still_arrives_with_its_type_and_text() -> None:
    failing = FailingUnpicklably()
    error = await asyncio.wait_for(failing.onError(), 10)
    assert isinstance(error, RemoteError)
    assert "UnpicklableError: holds a lock" in str(error)
    await asyncio.wait_for(failing, 10)


@pytest.mark.parametrize("startMethod", ["fork", "spawn"])
async def test_a_killed_child_is_detected_within_100_ms_and_named(
    startMethod: str, multiprocessingHelpers: None
) -> None:
    """Defect #10: RTCBot 0.2.5 never noticed; get() hung forever."""
    idle = Idle(defaultAutosubscribe=True, startMethod=startMethod)
    childPid = await asyncio.wait_for(idle.get(), 20)
    noticed = asyncio.get_running_loop().create_future()
    idle.onError(lambda error: noticed.set_result(time.monotonic()))
    pending = asyncio.ensure_future(idle.get())
    killedAt = time.monotonic()
    os.kill(childPid, signal.SIGKILL)
    noticedAt = await asyncio.wait_for(noticed, 5)
    assert noticedAt - killedAt < 0.1
    assert isinstance(idle.error, ChildProcessDied) and "SIGKILL" in str(idle.error)
    assert idle.error.exitcode == -signal.SIGKILL
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(pending, 5)
    await asyncio.wait_for(idle, 5)


async def test_close_from_a_coroutine_never_stalls_the_loop_even_for_a_stubborn_child() -> None:
    """Defect #18: RTCBot 0.2.5 joined the child on the loop (up to 2 x joinTimeout)."""
    stubborn = Stubborn(joinTimeout=0.2)
    await asyncio.wait_for(stubborn.onReady(), 10)
    async with LoopTicker() as ticker:
        started = time.monotonic()
        stubborn.close()
        assert time.monotonic() - started < 0.01 and stubborn.closed
        await asyncio.wait_for(stubborn, 5)
    assert ticker.maxGap < 0.05, ticker.maxGap
    assert stubborn.error is None


async def test_close_of_a_cooperative_child_is_quick() -> None:
    idle = Idle()
    await asyncio.wait_for(idle.onReady(), 10)
    started = time.monotonic()
    idle.close()
    await asyncio.wait_for(idle, 5)
    assert time.monotonic() - started < 0.5


# -- the consumer direction ---------------------------------------------------------------


@pytest.mark.parametrize("startMethod", START_METHODS)
async def test_a_producer_consumer_round_trip_carries_items_and_frames(
    startMethod: str, multiprocessingHelpers: None
) -> None:
    echo = Echo(defaultAutosubscribe=True, startMethod=startMethod)
    await asyncio.wait_for(echo.onReady(), 20)
    echo.put_nowait({"hello": [1, 2]})
    image = np.arange(12, dtype=np.int32).reshape(3, 4)
    echo.put_nowait(image)
    assert await asyncio.wait_for(echo.get(), 10) == {"hello": [1, 2]}
    report = await asyncio.wait_for(echo.get(), 10)
    doubled = await asyncio.wait_for(echo.get(), 10)
    assert report == {"sequence": 0, "writeable": False}
    assert isinstance(doubled, Frame) and np.array_equal(doubled, image * 2)
    stats = echo.statistics()
    assert (stats.toChild.frames, stats.toChild.items, stats.fromChild.frames, stats.fromChild.items) == (1, 1, 1, 2)
    echo.close()
    await asyncio.wait_for(echo, 10)
    del doubled


async def test_frames_forwarded_to_a_child_keep_their_sequence_and_capture_time() -> None:
    counter = Counter(30, frameEvery=10, defaultAutosubscribe=True)
    echo = Echo(defaultAutosubscribe=True)
    frames = []
    while len(frames) < 3:
        item = await asyncio.wait_for(counter.get(), 10)
        if isinstance(item, Frame):
            frames.append(item)
            echo.put_nowait(item)
    reports = []
    while len(reports) < 3:
        item = await asyncio.wait_for(echo.get(), 10)
        if isinstance(item, dict):
            reports.append(item["sequence"])
    assert reports == [frame.sequence for frame in frames] == [0, 1, 2]
    echo.close()
    await asyncio.wait_for(asyncio.gather(_teardown(counter), _teardown(echo)), 10)
    del frames, item


async def _teardown(obj: Any) -> None:
    await obj


async def test_a_consumer_child_gets_everything_in_order(tmp_path: Path) -> None:
    path = tmp_path / "received.txt"
    recorder = Recorder(path, 4)
    recorder.put_nowait("early, before ready")
    await asyncio.wait_for(recorder.onReady(), 10)
    source: asyncio.Queue[Any] = asyncio.Queue()
    recorder.putSubscription(source)
    source.put_nowait(1)
    source.put_nowait(np.ones((2, 3)))
    source.put_nowait("last")
    await asyncio.wait_for(recorder, 10)
    assert recorder.error is None and recorder.closed
    assert path.read_text().splitlines() == ["'early, before ready'", "1", "array (2, 3) 6", "'last'"]


async def test_ready_and_errors_of_a_consumer_child_reach_the_parent() -> None:
    """Defect #9: in RTCBot 0.2.5 they never left the child."""
    failing = FailingConsumer()
    await asyncio.wait_for(failing.onReady(), 10)
    assert failing.ready
    failing.put_nowait("a bad tune")
    error = await asyncio.wait_for(failing.onError(), 10)
    assert isinstance(error, RuntimeError) and "cannot play 'a bad tune'" in str(error)
    await asyncio.wait_for(failing, 10)
    assert failing.closed


async def test_a_consumer_child_waiting_for_data_burns_no_cpu() -> None:
    """Defect #25: RTCBot 0.2.5's parent busy-polled a core while the child waited."""
    reporter = CpuReporter()
    await asyncio.wait_for(reporter.onReady(), 10)
    parentCpu = time.process_time()
    await asyncio.sleep(0.5)
    parentCpu = time.process_time() - parentCpu
    reporter.put_nowait("report")
    error = await asyncio.wait_for(reporter.onError(), 10)
    childCpu = float(str(error))
    await asyncio.wait_for(reporter, 10)
    assert parentCpu < 0.05 and childCpu < 0.1, "a busy poll would use about 0.5 s"


async def test_an_unpicklable_item_for_the_child_is_dropped_with_a_clear_error_and_nothing_else_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "received.txt"
    recorder = Recorder(path, 2)
    recorder.put_nowait("first")
    recorder.put_nowait(lambda: None)
    recorder.put_nowait("second")
    await asyncio.wait_for(recorder, 10)
    assert path.read_text().splitlines() == ["'first'", "'second'"]
    assert recorder.statistics().toChild.dropped["unpicklable"] == 1
    assert "does not pickle" in caplog.text


def test_get_in_the_parent_is_a_clear_error() -> None:
    recorder = Recorder(Path(os.devnull), 1)
    with pytest.raises(RuntimeError, match="inside the child process"):
        recorder._get()
    recorder.close()


# -- construction and start methods ---------------------------------------------------------


def test_an_unpicklable_attribute_under_spawn_is_named(multiprocessingHelpers: None) -> None:
    with pytest.raises(TypeError, match=r"Holder\.lock \(lock\).*'spawn'"):
        Holder(startMethod="spawn")


def test_an_unpicklable_attribute_is_fine_under_fork() -> None:
    holder = Holder(startMethod="fork")
    holder.close()
    assert holder.closed


def test_an_object_created_before_the_loop_works_inside_asyncio_run() -> None:
    """Defect #22 for processes: created at module level, used in asyncio.run()."""
    counter = Counter(3, defaultAutosubscribe=True)

    async def main() -> list[int]:
        items = [await asyncio.wait_for(counter.get(), 10) for _ in range(3)]
        await asyncio.wait_for(counter, 10)
        return items

    assert asyncio.run(main()) == [0, 1, 2]


def test_closing_without_an_event_loop_waits_for_the_child() -> None:
    idle = Idle()
    idle.close()
    assert idle.closed and idle._isTornDown()


@pytest.mark.parametrize("bad", [{"slotCount": 0}, {"joinTimeout": -1}])
def test_bad_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        Idle(**bad)
