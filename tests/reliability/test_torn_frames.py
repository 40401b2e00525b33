"""A child rewrites slots in place as fast as it can while subscribers hold frames for random
times: no subscriber may ever see a frame change under it (0 corrupt in 100,000)."""

from __future__ import annotations

import asyncio
import random

import pytest

from rtcbot import Frame, MostRecentSubscription

from .workers import ChecksumPump, sealed

FRAMES = 100_000


@pytest.mark.loop_timeout(120)
@pytest.mark.timeout(150)
async def test_no_corrupt_frame_in_100_000_while_subscribers_hold_frames_for_random_times() -> None:
    rng = random.Random(7)
    pump = ChecksumPump(slotCount=8)
    checked = [0, 0, 0]
    corrupt: list[str] = []
    held: list[Frame] = []
    enough = asyncio.get_running_loop().create_future()

    def check(index: int, frame: Frame, moment: str) -> None:
        checked[index] += 1
        if not sealed(frame):
            corrupt.append(f"subscriber {index}, frame {frame.sequence}, {moment}")

    def immediate(frame: Frame) -> None:
        check(0, frame, "on arrival")
        if checked[0] >= FRAMES and not enough.done():
            enough.set_result(None)

    def holder(frame: Frame) -> None:
        """Keeps up to 4 frames, lets a random one go now and then, re-checking it then."""
        check(1, frame, "on arrival")
        held.append(frame)
        if len(held) > rng.randint(1, 4):
            check(1, held.pop(rng.randrange(len(held))), "after being held")

    async def dawdler(subscription: MostRecentSubscription) -> None:
        while True:
            frame = await subscription.get()
            await asyncio.sleep(rng.uniform(0, 0.003))
            check(2, frame, "after an await")
            del frame

    pump.subscribe(immediate)
    pump.subscribe(holder)
    slow = asyncio.ensure_future(dawdler(pump.subscribe(MostRecentSubscription())))
    try:
        await asyncio.wait_for(enough, 100)
    finally:
        slow.cancel()
        pump.close()
        await pump
    for frame in held:
        check(1, frame, "after the producer closed")
    held.clear()
    dropped = pump.statistics().fromChild.dropped["slotsFull"]
    print(f"checked {checked} frames ({dropped} not sent: every slot held)")
    assert not corrupt, corrupt[:10]
    assert checked[0] >= FRAMES and checked[1] >= FRAMES and checked[2] > 100
