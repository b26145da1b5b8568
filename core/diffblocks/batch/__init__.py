"""Batch generation: a file of inputs (JSONL, CSV, Parquet) to a folder of PNGs and a manifest.

``run(...)`` is ``diffblocks batch`` in Python: embedded by default, on Ray Data with ``ray=``.
``ImageGenerator`` and ``map_images`` put the same generation into your own Ray Data pipelines
(``pip install 'diffblocks[ray]'``). ``read_png_metadata(path)`` gives back the record a PNG
carries (inputs, seed, block or spec). Importing this module imports neither torch nor Ray.
"""

from __future__ import annotations

from typing import Any

from .._front._png import read_png_metadata
from ._inputs import InputFileError, read_rows
from ._run import BatchSummary, run


def __getattr__(name: str) -> Any:
    # the Ray helpers import pyarrow when used, so they load on first access
    if name in ("ImageGenerator", "map_images"):
        from . import _ray

        return getattr(_ray, name)
    raise AttributeError(f"module 'diffblocks.batch' has no attribute {name!r}")


__all__ = [
    "BatchSummary",
    "ImageGenerator",
    "InputFileError",
    "map_images",
    "read_png_metadata",
    "read_rows",
    "run",
]
