"""CVCamera on real sources: video files OpenCV itself wrote, a live YUV4MPEG2 stream through
a FIFO that goes away and comes back, and sources that cannot be read."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtcbot import CVCamera, Frame, MostRecentSubscription, ProducerClosed, SourceEnded, SubscriptionClosed
from rtcbot.devices import SourceError, SourceState, SourceStatus, VideoFormat
from rtcbot.devices.testpattern import decodeStamp, drawPattern

from .memory import inSharedMemory, memfdRegions

pytestmark = pytest.mark.loop_timeout(30)

WIDTH, HEIGHT, FRAMES = 320, 240, 40


def _expectedFrame(number: int) -> np.ndarray:
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    drawPattern(frame, number, 1_000_000 * number)
    return frame


def _writeVideo(path: Path, fourcc: str) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 30, (WIDTH, HEIGHT))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} here"
    for number in range(FRAMES):
        writer.write(_expectedFrame(number))
    writer.release()
    return path


@pytest.fixture(scope="module")
def losslessVideo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _writeVideo(tmp_path_factory.mktemp("video") / "lossless.mkv", "FFV1")


@pytest.fixture(scope="module")
def mjpegVideo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _writeVideo(tmp_path_factory.mktemp("video") / "camera.avi", "MJPG")


class Collector:
    """Records what a callback subscriber sees, while the frames are alive."""

    def __init__(self) -> None:
        self.numbers: list[tuple[int, int]] = []
        self.sequences: list[int] = []
        self.exact: list[bool] = []
        self.inSharedMemory: list[bool] = []

    def __call__(self, frame: Frame) -> None:
        self.numbers.append(decodeStamp(frame))
        self.sequences.append(frame.sequence)
        self.exact.append(np.array_equal(frame, _expectedFrame(len(self.exact) % FRAMES)))
        self.inSharedMemory.append(inSharedMemory(frame, memfdRegions()))


async def _playToTheEnd(camera: CVCamera) -> Collector:
    collector = Collector()
    camera.subscribe(collector)
    await camera.onClose()
    await camera
    return collector


async def test_a_lossless_file_arrives_frame_for_frame_decoded_straight_into_shared_memory(losslessVideo: Path) -> None:
    camera = CVCamera(cameranumber=losslessVideo, fps=0, slotCount=3)
    changes: list[SourceStatus] = []
    camera.onSourceChange(changes.append)
    collector = await _playToTheEnd(camera)
    assert collector.numbers == [(n, n) for n in range(FRAMES)], "every frame, in order, none torn"
    assert all(collector.exact), "pixel for pixel what was written"
    assert all(collector.inSharedMemory)
    assert camera.sourceStatus.copiedFrames == 0, "OpenCV decoded every frame into its slot"
    assert camera.error is None
    assert [change.state for change in changes] == [SourceState.LIVE, SourceState.ENDED]
    assert changes[0].actual == VideoFormat(WIDTH, HEIGHT, 30.0)
    assert changes[0].requested == VideoFormat(320, 240, 0)
    assert camera.statistics().fromChild.dropped["slotsFull"] == 0


async def test_onSourceChange_awaited_after_close_raises_at_once(losslessVideo: Path) -> None:
    camera = CVCamera(cameranumber=losslessVideo, fps=0)
    await _playToTheEnd(camera)
    with pytest.raises(ProducerClosed, match="will not change again"):
        await asyncio.wait_for(camera.onSourceChange(), 1)


async def test_a_compressed_file_plays_at_the_requested_rate_with_its_numbers_intact(mjpegVideo: Path) -> None:
    camera = CVCamera(cameranumber=str(mjpegVideo), fps=120)
    stamps: list[int] = []
    camera.subscribe(lambda frame: stamps.append(frame.timestamp))
    collector = await _playToTheEnd(camera)
    assert collector.numbers == [(n, n) for n in range(FRAMES)]
    assert float(np.median(np.diff(stamps))) / 1e6 == pytest.approx(1000 / 120, rel=0.25)


async def test_repeat_loops_a_file(losslessVideo: Path) -> None:
    camera = CVCamera(cameranumber=losslessVideo, fps=0, repeat=True)
    frames: asyncio.Queue[Frame] = asyncio.Queue()
    camera.subscribe(frames)
    numbers = []
    try:
        while len(numbers) < FRAMES + 5:
            frame = await frames.get()
            numbers.append(decodeStamp(frame)[0])
            del frame
    finally:
        camera.close()
        await camera
    assert numbers == [n % FRAMES for n in range(FRAMES + 5)]


async def test_preprocessframe_runs_in_the_capture_process_in_place_or_returning_a_new_array(
    losslessVideo: Path,
) -> None:
    inPlace = CVCamera(cameranumber=losslessVideo, fps=0, preprocessframe=_blackenCorner)
    grey = CVCamera(cameranumber=losslessVideo, fps=0, preprocessframe=_toGrey)
    first, second = asyncio.Queue[Frame](), asyncio.Queue[Frame]()
    inPlace.subscribe(first)
    grey.subscribe(second)
    blackened, greyed = await first.get(), await second.get()
    assert not blackened[:10, :10].any() and np.array_equal(blackened[10:], _expectedFrame(0)[10:])
    assert greyed.shape == (HEIGHT, WIDTH)
    assert np.array_equal(greyed, cv2.cvtColor(_expectedFrame(0), cv2.COLOR_BGR2GRAY))
    del blackened, greyed
    for camera in (inPlace, grey):
        camera.close()
        await camera


def _blackenCorner(frame: np.ndarray) -> np.ndarray:
    frame[:10, :10] = 0
    return frame


def _toGrey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def test_the_default_subscription_keeps_only_the_latest_frame(losslessVideo: Path) -> None:
    camera = CVCamera(cameranumber=losslessVideo)
    assert isinstance(camera.subscribe(), MostRecentSubscription)
    camera.close()


async def test_reads_at_the_end_of_a_file_raise_SourceEnded(losslessVideo: Path) -> None:
    camera = CVCamera(cameranumber=losslessVideo, fps=0)
    await camera.onReady()
    assert re.fullmatch(r"<CVCamera pid=\d+ ready 0 subscribers 30 fps>", repr(camera)), "the file's own rate"
    with pytest.raises(SourceEnded, match="end of"):
        while True:
            await camera.get()
    await camera
    assert repr(camera) == "<CVCamera closed 30 fps>"


# -- sources that fail --------------------------------------------------------------------


async def test_a_file_that_is_not_video_is_an_error(tmp_path: Path) -> None:
    notVideo = tmp_path / "notes.avi"
    notVideo.write_text("this is not a video\n" * 100)
    camera = CVCamera(cameranumber=notVideo)
    with pytest.raises(SubscriptionClosed, match="before it became ready"):
        await camera.onReady()
    await camera
    assert isinstance(camera.error, SourceError)
    assert "notes.avi" in str(camera.error)


async def test_a_pipeline_this_opencv_cannot_open_is_an_error_of_the_object() -> None:
    camera = CVCamera(cameranumber="videotestsrc ! appsink", apiPreference=cv2.CAP_GSTREAMER)
    error = await camera.onError()
    await camera
    assert isinstance(error, SourceError) and "videotestsrc ! appsink" in str(error)


async def test_a_camera_that_does_not_exist_is_an_error() -> None:
    camera = CVCamera(cameranumber=63)
    error = await camera.onError()
    await camera
    assert isinstance(error, SourceError) and "camera 63" in str(error)
    assert repr(camera) == "<CVCamera closed 30 fps error=SourceError('cannot open video source camera 63')>"


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"width": 0}, ValueError, "width"),
        ({"height": 2.5}, ValueError, "height"),
        ({"fps": -1}, ValueError, "fps"),
        ({"cameranumber": -1}, ValueError, "negative"),
        ({"cameranumber": 1.5}, TypeError, "camera index, a file path or a URL"),
        ({"cameranumber": "/no/such/video.avi"}, FileNotFoundError, "does not exist"),
        ({"preprocessframe": "flip"}, TypeError, "preprocessframe"),
    ],
)
def test_bad_arguments_are_refused_before_any_process_starts(
    arguments: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        CVCamera(**arguments)  # type: ignore[arg-type]


# -- a live stream that goes away and comes back -----------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "camera.fifo"
    os.mkfifo(path)
    yield path


class LiveStream:
    """A test-pattern YUV4MPEG2 stream written into a FIFO by a child process, paced in real time."""

    def __init__(self, path: Path, first: int, count: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.devices.y4mwriter",
                str(path),
                "--width",
                str(WIDTH),
                "--height",
                str(HEIGHT),
                "--fps",
                "60",
                "--first",
                str(first),
                "--count",
                str(count),
            ],
            cwd=Path(__file__).parents[2],
        )

    async def finished(self) -> None:
        await asyncio.to_thread(self.process.wait, 20)


async def test_a_source_that_disappears_is_reported_lost_and_resumes_when_it_comes_back(fifo: Path) -> None:
    stream = LiveStream(fifo, first=0, count=30)
    camera = CVCamera(cameranumber=fifo)
    changes: asyncio.Queue[SourceStatus] = asyncio.Queue()
    camera.onSourceChange(changes)
    numbers: list[int] = []
    camera.subscribe(lambda frame: numbers.append(decodeStamp(frame)[0]))
    try:
        assert (await changes.get()).state is SourceState.LIVE
        lost = await changes.get()
        assert lost.state is SourceState.LOST and lost.timesLost == 1 and "reopening" in lost.message
        await stream.finished()
        assert numbers[-1] == 29, "everything sent before the source went away arrived"
        assert camera.sourceStatus.state is SourceState.LOST and camera.ready
        stream = LiveStream(fifo, first=1000, count=30)
        back = await changes.get()
        assert back.state is SourceState.LIVE and back.timesLost == 1
        while not numbers or numbers[-1] < 1029:
            await changes.get()  # lost again at the second stream's end
        assert camera.error is None and not camera.closed
    finally:
        camera.close()
        await camera
        await stream.finished()
    assert numbers == sorted(numbers) and numbers[-1] == 1029
