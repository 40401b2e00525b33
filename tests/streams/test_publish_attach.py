"""Publishing a producer and attaching to it from other programs: the same frames, no copy."""

from __future__ import annotations

import asyncio
import os
import zlib
from typing import Any

import numpy as np
import pytest

import rtcbot
from rtcbot import SubscriptionProducer, SyntheticCamera
from rtcbot.streams import StreamNameInUse

from .launcher import Programs, attachedFrameShape
from .programs import mappingOf

pytestmark = pytest.mark.loop_timeout(20)


async def test_two_attached_programs_see_the_publishers_frames_in_its_memory() -> None:
    camera = SyntheticCamera(160, 120, fps=60)
    publication = camera.publish("front")
    local: dict[int, tuple[int, int]] = {}
    camera.subscribe(lambda frame: local.__setitem__(frame.sequence, (zlib.crc32(frame.data), frame.timestamp)))
    async with Programs() as programs:
        attached = [await programs.start("attach", "front", "--count", "40") for _ in range(2)]
        seen = [await program.frames(40) for program in attached]
        done = [await program.until("done") for program in attached]
    for frames, end in zip(seen, done, strict=True):
        sequences = [frame["seq"] for frame in frames]
        assert sequences == list(range(sequences[0], sequences[0] + 40)), "a gap or a repeat"
        for frame in frames:
            assert (frame["crc"], frame["ts"]) == local[frame["seq"]], "not the publisher's frame"
            assert frame["stamp"] == frame["seq"], "the picture is not the frame it claims to be"
            assert frame["memfd"] and not frame["writable"], "not a read-only view of the publisher's slot"
        assert end["statistics"]["missed"] == 0 and end["statistics"]["gaps"] == 0
    statistics = publication.statistics()
    assert statistics.copied == 0 and statistics.copiedBytes == 0, "device frames must not be copied"
    publication.close()
    camera.close()
    await publication
    await camera


async def test_arrays_made_in_the_program_are_copied_once_and_other_items_pickled() -> None:
    producer: SubscriptionProducer[Any] = SubscriptionProducer()
    async with producer.publish("made") as publication:
        stream = rtcbot.attach("made")
        await stream.onReady()
        queue = stream.subscribe()
        picture = np.arange(120 * 160 * 3, dtype=np.uint8).reshape(120, 160, 3)
        producer.put_nowait(picture)
        producer.put_nowait({"not": "an array"})
        producer.put_nowait(picture[::2])  # a view: not contiguous
        first = await asyncio.wait_for(queue.get(), 5)
        second = await asyncio.wait_for(queue.get(), 5)
        third = await asyncio.wait_for(queue.get(), 5)
        assert isinstance(first, rtcbot.Frame) and np.array_equal(first, picture)
        assert "memfd:rtcbot-" in mappingOf(first.ctypes.data)
        assert second == {"not": "an array"}
        assert np.array_equal(third, picture[::2])
        statistics = publication.statistics()
        assert statistics.copied == 2 and statistics.copiedBytes == picture.nbytes + picture[::2].nbytes
        del first, third
        stream.close()
        await stream
    producer.close()


async def test_attaching_before_the_publisher_waits_for_it() -> None:
    stream = rtcbot.attach("later")
    frames = stream.subscribe()
    await asyncio.sleep(0.1)  # attaching finds nothing for a while
    assert not stream.ready
    camera = SyntheticCamera(64, 48, fps=60)
    async with camera.publish("later"):
        await asyncio.wait_for(stream.onReady(), 5)
        frame = await asyncio.wait_for(frames.get(), 5)
        assert frame.shape == (48, 64, 3) and stream.statistics().attachments == 1
        del frame
        stream.close()
        await stream
    camera.close()
    await camera


@pytest.mark.parametrize("name", ["", "../x", "a/b", "a b", "x" * 65, ".", "..", "caméra"])
async def test_a_bad_name_is_a_value_error_that_names_the_rule(name: str) -> None:
    producer: SubscriptionProducer[Any] = SubscriptionProducer()
    for makeIt in (lambda: producer.publish(name), lambda: rtcbot.attach(name)):
        with pytest.raises(ValueError, match="letter, a digit"):
            makeIt()
    producer.close()


async def test_a_second_publisher_of_a_name_is_refused_and_the_first_goes_on() -> None:
    first = SyntheticCamera(64, 48, fps=60)
    second = SyntheticCamera(64, 48, fps=60)
    async with first.publish("front"):
        async with Programs() as programs:
            other = await programs.start("publish", "front")
            problem = await other.line()
            assert problem.get("error") == "StreamNameInUse", problem
            assert f"pid {os.getpid()}" in problem["message"]
        with pytest.raises(StreamNameInUse, match="already published by pid"):
            second.publish("front")
        assert await attachedFrameShape("front") == (48, 64, 3)
    for camera in (first, second):
        camera.close()
        await camera


async def test_a_frame_held_for_long_stays_intact_while_many_more_pass() -> None:
    async with SyntheticCamera(64, 48, fps=120) as camera, camera.publish("front"):
        stream = rtcbot.attach("front")
        frames = stream.subscribe()
        kept = await asyncio.wait_for(frames.get(), 5)
        keptCopy = kept.copy()
        sequences = []
        for _ in range(60):  # more than the announcement page's 16 entries, with one ticket out
            frame = await asyncio.wait_for(frames.get(), 5)
            sequences.append(frame.sequence)
            del frame
        assert sequences == list(range(sequences[0], sequences[0] + 60)), "frames were lost"
        assert np.array_equal(kept, keptCopy), "the held frame's slot was written again"
        assert kept.sequence < sequences[0]
        del kept
        stream.close()
        await stream
