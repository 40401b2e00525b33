"""Sphinx configuration of rtcbot's documentation (built by tests/test_docs.py, warnings as errors)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "rtcbot"
author = "the rtcbot developers"
copyright = "2026, the rtcbot developers"
extensions = ["sphinx.ext.autodoc", "latencytables"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
default_role = "code"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {
    "description": "live media producers and consumers, zero-copy, for small machines",
    "page_width": "1400px",
    "sidebar_width": "230px",
    "body_max_width": "1150px",
}
html_static_path = ["_static"]
nitpicky = False
