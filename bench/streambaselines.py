"""Two outside baselines for the named-stream benchmark: ZeroMQ and iceoryx2.

Both send camera frames from one (blocking) sender process to N receiver processes, each
receiver running an asyncio loop; see :mod:`.bench_streams_peer` for the programs.

*zmq*: a PUB socket on ``ipc:///tmp/rtcbot-bench-zmq-{name}``, each frame sent zero-copy as
``[header, frame]`` (header: capture time and index). Next to it a PULL socket
(``...-{name}.ctl``) takes the receivers' reports, which solves the slow-joiner problem:
before the first frame the sender publishes small probe messages until every receiver
reported that one arrived (so its subscription has certainly reached the PUB socket), and
after the last frame it repeats the end marker until every receiver reported it. PUB drops
frames for a receiver whose queue (high-water mark, about 128 MiB of frames) is full:
that is ZeroMQ's real behaviour, receivers count what they got.

*iceoryx2*: a publish-subscribe service with a ``Slice[c_uint8]`` payload (the frame's
bytes) and a user header (capture time, index); the sender loans a sample in shared
memory, copies the frame into it (the one copy) and sends it, with safe overflow so that
a slow receiver loses its oldest frames instead of blocking the sender. Delivery into
asyncio: the Python binding (0.10) has no asyncio API and does not expose the file
descriptor of its ``Listener``, so ``loop.add_reader`` is not possible. The sender
therefore also notifies an event service after each frame, and each receiver runs a
helper thread that blocks in ``Listener.timed_wait`` (which releases the GIL) and wakes
the loop with ``call_soon_threadsafe``; the loop then takes every waiting sample with
``Subscriber.receive`` itself, records it, and releases it. Each stream gets its own
iceoryx2 root directory and file prefix (from ``name``), so that whichever process ends
last can remove everything iceoryx2 leaves behind (its global management segment in
/dev/shm and its directories) without touching other iceoryx2 users.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import hashlib
import logging
import os
import shutil
import struct
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import zmq
import zmq.asyncio

from rtcbot_tools.baselines import pace

log = logging.getLogger(__name__)

#: Index values that are not frames (the end marker and, for zmq, the probe).
END_INDEX = 2**64 - 1
PROBE_INDEX = 2**64 - 2
#: How long a sender waits for its receivers to connect, and then to see the end marker.
CONNECT_TIMEOUT = 10.0
END_TIMEOUT = 5.0
#: Frames a zmq socket may queue per peer, in bytes of frames (bounded to 8 … 1000 frames).
ZMQ_QUEUE_BYTES = 128 * 2**20
#: Subscribers an iceoryx2 stream allows at least, and samples each one may hold.
IOX_MAX_SUBSCRIBERS = 8
IOX_BUFFER = 4
#: Samples a receiver may hold at once (one being recorded, one waiting), as rtcbot's default slotsPerProgram.
MAX_BORROWED = 2

HEADER = struct.Struct("<QQ")  # captureNs, index


def _contiguous(frames: list[np.ndarray[Any, Any]]) -> list[np.ndarray[Any, Any]]:
    """The frames as C-contiguous arrays (no copy for those that already are)."""
    if not frames:
        raise ValueError("no frames to send")
    return [np.ascontiguousarray(frame) for frame in frames]


# --- ZeroMQ -----------------------------------------------------------------------------


def _zmqPaths(name: str) -> tuple[str, str]:
    """The file paths of the data (PUB) and control (PULL) ipc endpoints of stream ``name``."""
    path = f"/tmp/rtcbot-bench-zmq-{name}"
    return path, path + ".ctl"


def _zmqHighWaterMark(nbytes: int) -> int:
    """Messages to queue per peer: about ZMQ_QUEUE_BYTES of frames of ``nbytes``."""
    return max(8, min(1000, ZMQ_QUEUE_BYTES // max(nbytes, 1)))


def _collectReports(
    control: zmq.Socket[bytes], kind: bytes, receivers: int, timeout: float, resend: Callable[[], None]
) -> set[bytes]:
    """Calls ``resend`` every few ms until ``receivers`` distinct receivers sent ``kind``."""
    reporters: set[bytes] = set()
    deadline = time.monotonic() + timeout
    while len(reporters) < receivers and time.monotonic() < deadline:
        resend()
        while control.poll(5, zmq.POLLIN):
            report, receiverId = control.recv_multipart()
            if report == kind:
                reporters.add(receiverId)
    return reporters


def sendZmq(
    name: str,
    frames: list[np.ndarray[Any, Any]],
    fps: float,
    seconds: float,
    receivers: int,
    onReady: Callable[[], None],
) -> int:
    """Publishes ``frames`` in turn for ``seconds`` at ``fps`` (0: flat out) over zmq PUB; returns frames sent."""
    frames = _contiguous(frames)
    dataPath, controlPath = _zmqPaths(name)
    context = zmq.Context()
    publisher = context.socket(zmq.PUB)
    control = context.socket(zmq.PULL)
    sent = 0
    try:
        publisher.setsockopt(zmq.SNDHWM, _zmqHighWaterMark(frames[0].nbytes))
        publisher.bind(f"ipc://{dataPath}")
        control.bind(f"ipc://{controlPath}")
        onReady()

        probe = HEADER.pack(0, PROBE_INDEX)
        ready = _collectReports(control, b"ready", receivers, CONNECT_TIMEOUT, lambda: publisher.send(probe))
        if len(ready) < receivers:
            raise RuntimeError(
                f"zmq stream {name!r}: {len(ready)} of {receivers} receivers connected in {CONNECT_TIMEOUT} s"
            )

        start = time.monotonic()
        while time.monotonic() - start < seconds:
            pace(start, sent, fps)
            captureNs = time.monotonic_ns()
            header = HEADER.pack(captureNs, sent)
            publisher.send_multipart([header, frames[sent % len(frames)].data], copy=False)
            sent += 1

        end = HEADER.pack(time.monotonic_ns(), END_INDEX)
        done = _collectReports(control, b"done", receivers, END_TIMEOUT, lambda: publisher.send(end))
        if len(done) < receivers:
            log.warning("zmq stream %r: only %d of %d receivers saw the end", name, len(done), receivers)
    finally:
        publisher.close(linger=0)
        control.close(linger=0)
        context.term()
        for path in (dataPath, controlPath):
            if os.path.exists(path):
                os.unlink(path)
    return sent


async def receiveZmq(
    name: str, shape: tuple[int, ...], dtype: str, record: Callable[[int, np.ndarray[Any, Any]], None]
) -> int:
    """Receives stream ``name`` over zmq SUB until its end, calling ``record(captureNs, array)`` per frame."""
    dataPath, controlPath = _zmqPaths(name)
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    receiverId = uuid.uuid4().hex.encode()
    context = zmq.asyncio.Context()
    subscriber = context.socket(zmq.SUB)
    control = context.socket(zmq.PUSH)
    frames = 0
    try:
        subscriber.setsockopt(zmq.RCVHWM, _zmqHighWaterMark(nbytes))
        subscriber.setsockopt(zmq.SUBSCRIBE, b"")
        subscriber.connect(f"ipc://{dataPath}")
        control.connect(f"ipc://{controlPath}")
        announced = False
        while True:
            parts = await subscriber.recv_multipart(copy=False)
            captureNs, index = HEADER.unpack(parts[0].buffer)
            if index == PROBE_INDEX:
                if not announced:
                    await control.send_multipart([b"ready", receiverId])
                    announced = True
                continue
            if index == END_INDEX:
                await control.send_multipart([b"done", receiverId])
                break
            array = np.frombuffer(parts[1].buffer, dtype).reshape(shape)
            assert array.shape == shape
            record(captureNs, array)
            frames += 1
            del array, parts
    finally:
        subscriber.close(linger=0)
        control.close(linger=1000)  # lets the last report out
        context.term()
    return frames


# --- iceoryx2 ---------------------------------------------------------------------------


class FrameHeader(ctypes.Structure):
    """The iceoryx2 user header of every sample: when the frame was captured, its index."""

    _fields_ = [("captureNs", ctypes.c_uint64), ("index", ctypes.c_uint64)]


def _iox() -> Any:
    """The iceoryx2 module (imported late: only the iceoryx2 programs need it)."""
    import iceoryx2  # type: ignore[import-untyped]

    return iceoryx2


def _iceoryxPlace(name: str) -> tuple[str, str]:
    """The root directory and file prefix that iceoryx2 uses for stream ``name`` alone.

    Both are short (a hash of the name): iceoryx2 puts the listeners' Unix sockets in the
    root directory, and their paths must stay below 108 bytes.
    """
    tag = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"/tmp/rtcbot-iox2-{tag}/", f"rtcbot{tag}_"


class IceoryxEnd:
    """One process's iceoryx2 node of a stream and everything made from it, released together.

    The native objects are only held here (not in local variables), so that :meth:`close`
    frees them all even when an exception (and its traceback) is on the way.
    """

    def __init__(self, name: str, role: str) -> None:
        """Creates a node with its own root directory and file prefix, handling no signals."""
        self.iox2 = _iox()
        self.name = name
        root, prefix = _iceoryxPlace(name)
        self.config: Any = self.iox2.config.default()
        self.config.global_cfg.root_path = self.iox2.Path.new(root)
        self.config.global_cfg.prefix = self.iox2.FileName.new(prefix)
        self.node: Any = (
            self.iox2.NodeBuilder.new()
            .config(self.config)
            .name(self.iox2.NodeName.new(f"rtcbot-bench-{role}"))
            .signal_handling_mode(self.iox2.SignalHandlingMode.Disabled)
            .create(self.iox2.ServiceType.Ipc)
        )
        self.service: Any = None  # publish-subscribe: the frames
        self.events: Any = None  # event: wakes the receivers
        self.ports: dict[str, Any] = {}

    def frameService(self, maxSubscribers: int = 0) -> Any:
        """A builder of the frame service; with ``maxSubscribers`` the creator's settings."""
        builder = (
            self.node.service_builder(self.iox2.ServiceName.new(self.name))
            .publish_subscribe(self.iox2.Slice[ctypes.c_uint8])
            .user_header(FrameHeader)
        )
        if maxSubscribers:
            builder = (
                builder.max_publishers(1)
                .max_subscribers(maxSubscribers)
                .subscriber_max_buffer_size(IOX_BUFFER)
                .subscriber_max_borrowed_samples(MAX_BORROWED)
                .history_size(0)
                .enable_safe_overflow(True)
            )
        return builder

    def eventService(self) -> Any:
        """A builder of the event service next to the frame service."""
        return self.node.service_builder(self.iox2.ServiceName.new(f"{self.name}/wake")).event()

    def subscribers(self) -> int:
        """Subscribers connected to the frame service."""
        return int(self.service.dynamic_config.number_of_subscribers)

    def listeners(self) -> int:
        """Listeners connected to the event service."""
        return int(self.events.dynamic_config.number_of_listeners)

    def release(self, port: str) -> None:
        """Deletes one port (publisher, subscriber, notifier, listener) now."""
        obj = self.ports.pop(port, None)
        if obj is not None:
            obj.delete()

    def close(self) -> None:
        """Frees everything; the last process of the stream also removes its files."""
        for port in list(self.ports):
            self.release(port)
        self.service = self.events = self.node = None
        gc.collect()
        try:
            states = self.iox2.Node.list(self.iox2.ServiceType.Ipc, self.config)
        except self.iox2.NodeListFailure:
            return
        if any(isinstance(state, self.iox2.NodeState.Alive) for state in states):
            return  # another process of the stream still runs: the last one cleans up
        root, prefix = _iceoryxPlace(self.name)
        for entry in os.listdir("/dev/shm"):
            if entry.startswith(prefix):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join("/dev/shm", entry))
        shutil.rmtree(root, ignore_errors=True)


def _waitUntil(condition: Callable[[], bool], timeout: float) -> bool:
    """Polls ``condition`` with short sleeps for up to ``timeout`` seconds; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def _publish(end: IceoryxEnd, captureNs: int, index: int, frame: np.ndarray[Any, Any] | None) -> None:
    """Loans a sample, copies ``frame`` (None: the end marker) into it, sends it, notifies."""
    sample = end.ports["publisher"].loan_slice_uninit(frame.nbytes if frame is not None else 1)
    try:
        if frame is not None:
            ctypes.memmove(sample.payload_ptr, frame.ctypes.data, frame.nbytes)
        header = sample.user_header().contents
        header.captureNs = captureNs
        header.index = index
        del header
        sample.assume_init().send()
    finally:
        del sample
    end.ports["notifier"].notify()


def sendIceoryx2(
    name: str,
    frames: list[np.ndarray[Any, Any]],
    fps: float,
    seconds: float,
    receivers: int,
    onReady: Callable[[], None],
) -> int:
    """Publishes ``frames`` in turn for ``seconds`` at ``fps`` (0: flat out) over iceoryx2; returns frames sent."""
    frames = _contiguous(frames)
    end = IceoryxEnd(name, "send")
    iox2 = end.iox2
    sent = 0
    try:
        maxSubscribers = max(IOX_MAX_SUBSCRIBERS, receivers)
        end.service = end.frameService(maxSubscribers).create()
        end.events = end.eventService().max_notifiers(1).max_listeners(maxSubscribers).create()
        end.ports["publisher"] = (
            end.service.publisher_builder()
            .initial_max_slice_len(frames[0].nbytes)
            .allocation_strategy(iox2.AllocationStrategy.Static)
            .max_loaned_samples(1)
            .create()
        )
        end.ports["notifier"] = end.events.notifier_builder().create()
        onReady()

        if not _waitUntil(lambda: end.subscribers() >= receivers and end.listeners() >= receivers, CONNECT_TIMEOUT):
            raise RuntimeError(
                f"iceoryx2 stream {name!r}: {end.subscribers()} of {receivers} receivers connected"
                f" in {CONNECT_TIMEOUT} s"
            )
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            pace(start, sent, fps)
            captureNs = time.monotonic_ns()
            _publish(end, captureNs, sent, frames[sent % len(frames)])
            sent += 1
        _publish(end, time.monotonic_ns(), END_INDEX, None)
        # Safe overflow keeps the newest sample, so the end marker reaches every receiver;
        # each lets go of its subscriber when it has seen it.
        if not _waitUntil(lambda: end.subscribers() == 0, END_TIMEOUT):
            log.warning("iceoryx2 stream %r: receivers still connected after the end", name)
    finally:
        end.close()
    return sent


async def _openService(build: Callable[[], Any], failure: type[Exception]) -> Any:
    """``build()``, retried while it fails with ``failure`` (the sender has not created the service yet)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        try:
            return build()
        except failure:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.005)


async def receiveIceoryx2(
    name: str, shape: tuple[int, ...], dtype: str, record: Callable[[int, np.ndarray[Any, Any]], None]
) -> int:
    """Receives stream ``name`` over iceoryx2 until its end, calling ``record(captureNs, array)`` per frame."""
    loop = asyncio.get_running_loop()
    frameBytes = ctypes.c_uint8 * (int(np.prod(shape)) * np.dtype(dtype).itemsize)
    end = IceoryxEnd(name, "receive")
    stop = threading.Event()
    arrived: asyncio.Queue[tuple[int, np.ndarray[Any, Any] | None, Any]] = asyncio.Queue()
    borrowed = 0  # samples taken from the subscriber and not yet recorded
    ended = False

    def drain() -> None:
        """In the loop: hands every waiting sample (as many as may be borrowed) to the
        receiving coroutine, as the other transports' frames reach theirs."""
        nonlocal borrowed, ended
        subscriber = end.ports.get("subscriber")
        while subscriber is not None and not ended and borrowed < MAX_BORROWED:
            sample = subscriber.receive()
            if sample is None:
                return
            header = sample.user_header().contents
            if header.index == END_INDEX:
                ended = True
                sample.delete()
                arrived.put_nowait((0, None, None))
                return
            array = np.frombuffer(memoryview(frameBytes.from_address(sample.payload_ptr)), dtype).reshape(shape)
            borrowed += 1
            arrived.put_nowait((int(header.captureNs), array, sample))

    def wake(listener: Any, timeout: Any) -> None:
        """In a helper thread: wakes the loop when the sender notified (and every 50 ms)."""
        while not stop.is_set():
            listener.timed_wait(timeout)
            if not stop.is_set():
                loop.call_soon_threadsafe(drain)

    waker: threading.Thread | None = None
    try:
        end.service = await _openService(lambda: end.frameService().open(), end.iox2.PublishSubscribeOpenError)
        end.events = await _openService(lambda: end.eventService().open(), end.iox2.EventOpenError)
        end.ports["listener"] = end.events.listener_builder().create()
        end.ports["subscriber"] = end.service.subscriber_builder().create()
        waker = threading.Thread(
            target=wake,
            args=(end.ports["listener"], end.iox2.Duration.from_millis(50)),
            name=f"iceoryx2-wake-{name}",
            daemon=True,
        )
        waker.start()
        frames = 0
        while True:
            captureNs, array, sample = await arrived.get()
            if array is None:
                break
            assert array.shape == shape
            record(captureNs, array)
            frames += 1
            del array
            sample.delete()
            borrowed -= 1
            drain()  # samples that waited for this one to be given back
    finally:
        stop.set()
        while waker is not None and waker.is_alive():
            await asyncio.sleep(0.005)
        waker = None
        end.release("subscriber")  # tells the sender this receiver is done
        end.close()
    return frames
