"""A STAND-IN for a device on a serial port or an input device node (no Arduino, GPS or
gamepad exists on this machine): it makes a pty pair, the kernel's own tty, links ``--link`` to the tty's path as
udev links /dev/ttyACM0 to a plugged-in board, and behaves like the sketches of RTCBot's
Arduino docs:

- ``--sketch lines`` (``examples/arduino/basic.ino``): for each byte received, writes
  ``I received: <byte>\\r\\n``;
- ``--sketch structs`` (the "Full Example"): reads ``<HB`` structs, writes ``<BH`` with
  the two values swapped;
- ``--sketch talk``: writes ``--lines`` lines ``line N\\n`` and nothing else;
- ``--sketch relay``: writes what arrives on its stdin, as a GPS receiver or an input
  device (records of ``struct input_event``) would send it.

A separate process, so that no forked reader inherits the pty's master and keeps it alive.

Before anything it writes ``--noise`` bytes of boot garbage and then ``--start`` (hex), as
a board that resets when the port opens. It prints ``plugged PATH`` once the link exists;
SIGTERM unplugs it (the pty closes, the link goes)."""

from __future__ import annotations

import argparse
import os
import signal
import struct
import sys
import threading
import tty


def relay(master: int) -> None:
    while data := sys.stdin.buffer.read1(65536):
        view = memoryview(data)
        while view:
            view = view[os.write(master, view) :]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--link", required=True)
    parser.add_argument("--sketch", choices=["lines", "structs", "talk", "relay"], default="lines")
    parser.add_argument("--start", default="", help="start bytes, in hex")
    parser.add_argument("--noise", type=int, default=0)
    parser.add_argument("--lines", type=int, default=0)
    arguments = parser.parse_args()
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)  # the port stays open on the board's side, as a device node would exist
    os.symlink(os.ttyname(slave), arguments.link)

    def unplug(*_: object) -> None:
        os.unlink(arguments.link)
        os.close(master)
        os._exit(0)  # at once: the relay thread may be inside a read of stdin

    signal.signal(signal.SIGTERM, unplug)
    os.write(master, bytes((7 * i + 200) % 256 for i in range(arguments.noise)) + bytes.fromhex(arguments.start))
    print("plugged", arguments.link, flush=True)
    if arguments.sketch == "talk":
        for number in range(arguments.lines):
            os.write(master, f"line {number}\n".encode())
    if arguments.sketch == "relay":
        threading.Thread(target=relay, args=(master,), daemon=True).start()
    pending = b""
    while True:
        received = os.read(master, 4096)
        if arguments.sketch == "lines":
            for byte in received:
                os.write(master, b"I received: %d\r\n" % byte)
        elif arguments.sketch == "structs":
            pending += received
            while len(pending) >= 3:
                value1, value2 = struct.unpack("<HB", pending[:3])
                pending = pending[3:]
                os.write(master, struct.pack("<BH", value2, value1))


if __name__ == "__main__":
    main()
