"""Importing ``"package.module:attr"`` targets (string type hints, entry points, pipeline classes)."""

from __future__ import annotations

from typing import Any


def import_target(target: str) -> Any:
    """The object named by ``"package.module:attr.path"``, importing the module."""
    import importlib

    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"target {target!r} must look like 'package.module:attribute'")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
