"""Progress bars for long loops: tqdm on a terminal, nothing in pipes or when switched off."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

#: Switch progress bars off everywhere (``DIFFBLOCKS_PROGRESS=0`` does the same).
config: dict[str, Any] = {"disable": None}


def progress_bar(
    iterable: Iterable[T], *, total: int | None = None, desc: str | None = None, disable: bool | None = None
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when stderr is a terminal and bars are not disabled."""
    if disable is None:
        disable = config["disable"]
    if disable is None:
        disable = os.environ.get("DIFFBLOCKS_PROGRESS", "1") == "0" or not sys.stderr.isatty()
    if disable:
        return iter(iterable)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iter(iterable)
    return iter(tqdm(iterable, total=total, desc=desc, leave=False))
