"""Progress bars for long loops: tqdm on a terminal, nothing in pipes or when switched off."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

#: The running pipeline's ``set_progress_bar_config`` settings (tqdm keywords).
_pipeline_settings: ContextVar[Mapping[str, Any] | None] = ContextVar("progress_settings", default=None)


@contextmanager
def progress_settings(settings: Mapping[str, Any]) -> Iterator[None]:
    """Apply one pipeline's progress bar settings to the bars its blocks open while it runs."""
    token = _pipeline_settings.set(settings)
    try:
        yield
    finally:
        _pipeline_settings.reset(token)


def progress_bar(
    iterable: Iterable[T], *, total: int | None = None, desc: str | None = None, disable: bool | None = None
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when stderr is a terminal and bars are not disabled
    (``disable=True``, the pipeline's ``set_progress_bar_config(disable=True)``, or
    ``DIFFBLOCKS_PROGRESS=0``)."""
    settings = dict(_pipeline_settings.get() or {})
    if disable is None:
        disable = settings.pop("disable", None)
    settings.pop("disable", None)
    if disable is None:
        disable = os.environ.get("DIFFBLOCKS_PROGRESS", "1") == "0" or not sys.stderr.isatty()
    if disable:
        return iter(iterable)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iter(iterable)
    options: dict[str, Any] = {"total": total, "desc": desc, "leave": False, **settings}
    return iter(tqdm(iterable, **options))
