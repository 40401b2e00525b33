"""Headless Chromium from Debian's package, driven by Playwright (no browser download), on
the closed network, with a private profile and config, and nothing of it left running
afterwards; for the benchmarks and the test suite."""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any


class BrowserUnavailable(RuntimeError):
    """Chromium or Playwright is not installed."""


FLAGS = [
    "--autoplay-policy=no-user-gesture-required",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # the closed network: no lookups
]


def _processesMentioning(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` (Chromium's crashpad handler leaves
    Playwright's process tree, but its command line names our private directory)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def _inNamespace(executable: str, namespace: str, private: str) -> str:
    """A launcher (in ``private``) that runs ``executable`` inside the network namespace
    ``namespace``; Playwright's pipe to the browser passes through ``ip netns exec``."""
    launcher = Path(private) / "chromium-in-namespace"
    launcher.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {executable} "$@"\n')
    launcher.chmod(0o700)
    return str(launcher)


@asynccontextmanager
async def chromiumPage(extraFlags: Sequence[str] = (), namespace: str | None = None) -> AsyncIterator[Any]:
    """A new page in a headless Chromium; the browser and all it started end afterwards.
    ``extraFlags`` are added to :data:`FLAGS` (for instance Chromium's fake camera and
    microphone, for a page that calls ``getUserMedia``); with ``namespace`` the browser runs
    in that network namespace (another host, see netns.py)."""
    executable = shutil.which("chromium")
    try:  # a large import: off the event loop
        playwright = await asyncio.to_thread(importlib.import_module, "playwright.async_api")
    except ImportError as error:
        raise BrowserUnavailable(
            "playwright is not installed (pip install playwright; no browser download needed)"
        ) from error
    if executable is None:
        raise BrowserUnavailable("Debian's chromium is not installed (scripts/system-packages installs it)")
    private = await asyncio.to_thread(tempfile.mkdtemp, prefix="rtcbot-chromium-")
    environment = {**os.environ, "XDG_CONFIG_HOME": f"{private}/config", "XDG_CACHE_HOME": f"{private}/cache"}
    flags = FLAGS + list(extraFlags) + (["--no-sandbox"] if os.geteuid() == 0 else [])
    if namespace is not None:
        executable = await asyncio.to_thread(_inNamespace, executable, namespace, private)
    try:
        async with playwright.async_playwright() as driver:
            browser = await driver.chromium.launch(
                executable_path=executable, headless=True, args=flags, env=environment, timeout=30_000
            )
            try:
                context = await browser.new_context()
                yield await context.new_page()
            finally:
                await browser.close()
    finally:
        for pid in await asyncio.to_thread(_processesMentioning, private):
            os.kill(pid, signal.SIGKILL)
        await asyncio.to_thread(shutil.rmtree, private, True)
