"""Where ``diffblocks run`` writes its result: checks made before any compute, and safe writes.

An output file is written to a temporary file next to it and moved into place, so a failed run
leaves nothing half-written, an existing file is replaced only with ``--force``, and a symlink at
the target is replaced, never followed.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
TENSOR_SUFFIXES = (".safetensors",)
JSON_SUFFIXES = (".json",)


class UsageError(ValueError):
    """A command-line mistake: the CLI prints the message and exits 2."""


def kind_of_value(value: Any) -> str:
    """'image' (PIL images, or a list of them), 'tensor' (torch tensors / numpy arrays, or a list
    of them), or 'json' for anything else."""
    items = value if isinstance(value, (list, tuple)) and value else [value]
    if all(hasattr(v, "save") and hasattr(v, "size") and hasattr(v, "mode") for v in items):
        return "image"
    if all(type(v).__module__.split(".")[0] in ("torch", "numpy") and hasattr(v, "shape") for v in items):
        return "tensor"
    return "json"


def kind_of_hint(type_hint: Any, output_type: Any) -> str | None:
    """The kind an output will have, from its declared type hint (None when it cannot be told)."""
    text = type_hint if isinstance(type_hint, str) else getattr(type_hint, "__name__", repr(type_hint))
    if type_hint is None:
        return None
    if "Image" in text:
        # SD-style outputs: images unless output_type asks for arrays or tensors
        return "image" if output_type in (None, "pil") else None
    if "Tensor" in text or "ndarray" in text:
        return "tensor" if "|" not in text else None
    if type_hint in (int, float, str, bool) or text in ("int", "float", "str", "bool"):
        return "json"
    return None


def suffix_kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in TENSOR_SUFFIXES:
        return "tensor"
    if suffix in JSON_SUFFIXES:
        return "json"
    return None


_SUFFIX_HELP = {
    "image": "an image file name (.png, .jpg, .jpeg or .webp)",
    "tensor": "a .safetensors file name",
    "json": "a .json file name",
}


def check_out_path(out: str, force: bool) -> Path:
    """Refuse, before anything is computed, an ``--out`` that cannot be written."""
    path = Path(out)
    if out and not (path.is_dir() and not path.is_symlink()) and suffix_kind(path) is None:
        raise UsageError(
            f"--out {out}: unknown file type {path.suffix or '(no extension)'!r}; use .png/.jpg/.webp "
            f"for images, .safetensors for tensors or .json for other values"
        )
    return check_destination(out, force, "--out", example="out.png")


def check_destination(text: str, force: bool, flag: str, *, example: str) -> Path:
    """The file a flag names (``--out``, ``--save``), refused when it cannot be written: an empty
    name, a folder, a missing or unwritable folder, or an existing file or symlink without
    ``--force``. Write it with :func:`atomic_write`, which replaces a symlink, never follows it."""
    if not text:
        raise UsageError(f"{flag} '': give a file name, such as {flag} {example}")
    path = Path(text)
    if path.is_dir() and not path.is_symlink():
        raise UsageError(f"{flag} {text}: is a folder; give a file name such as {path / example}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{flag} {text}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {text}: the folder {parent} is not writable")
    check_not_there(path, force, flag)
    return path


def check_not_there(path: Path, force: bool, flag: str = "--out") -> None:
    if os.path.lexists(path) and not force:
        what = "a symlink" if path.is_symlink() else "a file"
        raise UsageError(f"{flag} {path}: {what} of that name exists; add --force to replace it")


def check_kind(path: Path, kind: str, name: str) -> None:
    """The file name must fit what the output holds."""
    if suffix_kind(path) != kind:
        held = {"image": "images", "tensor": "a tensor", "json": "a plain value"}[kind]
        raise UsageError(f"--out {path}: output {name!r} holds {held}; use {_SUFFIX_HELP[kind]}")


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then move it into place
    (replacing a symlink itself rather than the file it points to)."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent or ".")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path.resolve()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def image_paths(path: Path, count: int) -> list[Path]:
    """One file for one image; ``name_0.png``, ``name_1.png``, ... for several."""
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}_{i}{path.suffix}") for i in range(count)]


def write_tensors(value: Any, path: Path, name: str) -> None:
    """A tensor (or list of tensors) as safetensors: key ``name`` (``name.0``, ... for a list)."""
    import torch
    from safetensors.torch import save_file

    items = list(value) if isinstance(value, (list, tuple)) else [value]
    keys = [name] if len(items) == 1 and not isinstance(value, (list, tuple)) else None
    tensors = {
        (keys[0] if keys else f"{name}.{i}"): torch.as_tensor(v).detach().to("cpu").contiguous()
        for i, v in enumerate(items)
    }
    save_file(tensors, str(path), metadata={"diffblocks_output": name})


def refuse_text(kind: str, name: str) -> None:
    """Tensors and images have no text form: say which file type holds them."""
    if kind == "tensor":
        raise UsageError(
            f"output {name!r} is a tensor and cannot be written as text; save it with --out FILE.safetensors"
        )
    if kind == "image":
        raise UsageError(f"output {name!r} holds images and cannot be printed; save them with --out FILE.png")


def as_json(value: Any, name: str) -> str:
    """The value as JSON text; refuses values JSON cannot hold (tensors, images, NaN)."""
    refuse_text(kind_of_value(value), name)
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise UsageError(
            f"output {name!r} ({type(value).__name__}) cannot be written as JSON; from Python, "
            f"pipe(..., output={name!r}) returns it as an object"
        ) from None


def check_number(value: Any, where: str) -> None:
    """NaN and infinities are never valid inputs (JSON's NaN/Infinity and 1e999 parse to them)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{where}: {value} is not a finite number")
    if isinstance(value, (list, tuple)):
        for v in value:
            check_number(v, where)
    if isinstance(value, dict):
        for v in value.values():
            check_number(v, where)
