"""PNG files that remember how they were made.

Every image written by ``diffblocks run``, ``diffblocks batch`` and ``diffblocks serve`` carries one
``diffblocks`` text chunk holding JSON: the block name or spec, the inputs, the seed, and the
versions of diffblocks and of the plugins that were loaded. ``read_png_metadata`` gives it back, so
``diffblocks run --from-png FILE`` can run the same thing again.

Writers add their own keys through ``extra``; ``diffblocks run`` adds ``device``, ``output`` (the
output name) and, for one image of several, ``image_index``. Readers ignore keys they do not know.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: The PNG text-chunk key that holds the JSON record.
PNG_KEY = "diffblocks"
#: Bumped when the record's layout changes in a way readers must know about.
RECORD_VERSION = 1


def _jsonable(value: Any) -> Any:
    """Inputs as JSON: plain values stay, anything else (tensors, images) becomes its repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return {"__repr__": type(value).__name__}


def plugin_versions() -> dict[str, str | None]:
    """Distribution name -> version of every plugin that loaded, from the registry in use."""
    from .._plugins._registry import list_plugins

    return {p.distribution: p.version for p in list_plugins() if getattr(p, "distribution", None)}


def generation_record(
    *,
    inputs: dict[str, Any],
    seed: int | None,
    block: str | None = None,
    spec: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record stored in a PNG: give ``block`` (a registered name) or ``spec`` (a spec dict)."""
    from .._model._version import __version__

    record: dict[str, Any] = {
        "format": RECORD_VERSION,
        "block": block,
        "spec": spec,
        "inputs": _jsonable(dict(inputs)),
        "seed": seed,
        "diffblocks": __version__,
        "plugins": plugin_versions(),
    }
    if extra:
        record.update(_jsonable(extra))
    return record


def save_png(image: Any, path: str | os.PathLike[str], record: dict[str, Any] | None) -> Path:
    """Save a PIL image as PNG with ``record`` in its ``diffblocks`` text chunk; returns the path."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    if record is not None:
        info.add_text(PNG_KEY, json.dumps(record, sort_keys=True))
    target = Path(path)
    image.save(target, format="PNG", pnginfo=info)
    return target


def read_png_metadata(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record stored by ``save_png``, or None when the file has none. Raises ValueError when
    the chunk is there but is not valid JSON."""
    from PIL import Image

    with Image.open(path) as im:
        text = getattr(im, "text", None) or im.info
        raw = text.get(PNG_KEY)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: the '{PNG_KEY}' PNG text chunk is not valid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path}: the '{PNG_KEY}' PNG text chunk is not a JSON object")
    return record


def png_bytes(image: Any, record: dict[str, Any] | None, *, compress_level: int = 6) -> bytes:
    """``save_png`` into memory: the PNG file as bytes (``diffblocks serve`` answers with these).
    ``compress_level`` (0-9) trades size for time; a server sending many images may want 1."""
    import io

    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    if record is not None:
        info.add_text(PNG_KEY, json.dumps(record, sort_keys=True))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, compress_level=compress_level)
    return buffer.getvalue()
