"""Every public module, class, function, method and property of rtcbot (and of the profiler
and the benchmarks) says what it does."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import bench
import rtcbot
import rtcbot_tools


def _isPublic(name: str) -> bool:
    return not name.startswith("_")


def _publicModules(package: ModuleType) -> list[ModuleType]:
    modules = [package]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if all(_isPublic(part) for part in info.name.split(".")[1:]):
            modules.append(importlib.import_module(info.name))
    return modules


def _undocumented(package: ModuleType) -> list[str]:
    missing = []
    for module in _publicModules(package):
        if not module.__doc__:
            missing.append(module.__name__)
        for name, value in vars(module).items():
            if not _isPublic(name) or getattr(value, "__module__", None) != module.__name__:
                continue
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            if not value.__doc__:
                missing.append(f"{module.__name__}.{name}")
            if inspect.isclass(value):
                for member, attribute in vars(value).items():
                    function = attribute.fget if isinstance(attribute, property) else attribute
                    if _isPublic(member) and inspect.isfunction(function) and not function.__doc__:
                        missing.append(f"{module.__name__}.{name}.{member}")
    return missing


def test_everything_public_in_rtcbot_has_a_docstring() -> None:
    assert _undocumented(rtcbot) == []


def test_everything_public_in_the_tools_has_a_docstring() -> None:
    assert _undocumented(rtcbot_tools) == []


def test_everything_public_in_the_benchmarks_has_a_docstring() -> None:
    assert _undocumented(bench) == []
