"""The ``rtcbot`` command: ``rtcbot serve`` publishes devices, ``rtcbot list`` shows streams."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import NoReturn


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    from .streams._daemon import addServeArguments

    parser = _Parser(prog="rtcbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve = commands.add_parser("serve", help="run devices headless and publish them as named streams")
    addServeArguments(serve)
    listing = commands.add_parser("list", help="show the published streams")
    listing.add_argument("--json", action="store_true", help="one JSON object per stream, for programs")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Runs the command line ``argv`` (``sys.argv[1:]`` by default)."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.command == "list":
        from .streams._listing import describeAll, formatTable

        streams = describeAll()
        if arguments.json:
            print(json.dumps(streams))
        elif streams:
            print(formatTable(streams))
        else:
            from .streams import streamDirectory

            print(f"no streams are published (in {streamDirectory()})")
        return
    from .streams._daemon import serve

    if not (arguments.synthetic or arguments.camera is not None or arguments.mic):
        parser.error("serve needs something to publish: --camera N, --synthetic and/or --mic")
    for option in ("width", "height", "slots"):
        if getattr(arguments, option) < 1:
            parser.error(f"--{option} must be at least 1")
    try:
        status = asyncio.run(serve(arguments))
    except (ValueError, RuntimeError, OSError) as error:
        print(f"rtcbot serve: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(status)
