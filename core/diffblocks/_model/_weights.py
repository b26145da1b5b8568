"""Torch dtype names a file may give, and the weight files diffblocks refuses to load (pickles,
truncated or malformed safetensors)."""

from __future__ import annotations

import json
import os
from typing import Any

# -- dtypes ------------------------------------------------------------------------------------
#: The torch dtypes a spec file may name: names only, never any other torch attribute.
DTYPE_NAMES = frozenset(
    {"float16", "half", "bfloat16", "float32", "float", "float64", "double", "float8_e4m3fn", "float8_e5m2"}
)


def dtype_from_name(name: Any) -> Any:
    """The torch dtype called ``name`` (one of :data:`DTYPE_NAMES`); ValueError for anything else,
    so a name like ``"has_mps"`` can never reach an arbitrary torch attribute."""
    if not isinstance(name, str) or name not in DTYPE_NAMES:
        raise ValueError(
            f"dtype {name!r} is not a torch dtype name; use one of {', '.join(sorted(DTYPE_NAMES))}"
        )
    import torch

    return getattr(torch, name)


# -- weights -----------------------------------------------------------------------------------
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def pickle_weights_problem(where: str | os.PathLike[str]) -> str | None:
    """Why diffblocks refuses to load from ``where`` (a weights file or a folder), or None.

    Pickle files can run code when loaded, so they are refused; a folder that also has
    ``.safetensors`` files is fine (only those are read).
    """
    where = os.fspath(where)
    fix = (
        "diffblocks loads model weights only from .safetensors files (pickle files can run code "
        "when loaded). Convert it once in a trusted environment, e.g. "
        "`safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors')` "
        "(or `model.save_pretrained(folder, safe_serialization=True)`), and load that instead"
    )
    if os.path.isfile(where):
        if where.lower().endswith(PICKLE_SUFFIXES):
            return f"{where!r} is a pickle weights file; {fix}"
        return None
    if not os.path.isdir(where):
        return None
    names = sorted(os.listdir(where))
    if any(n.endswith(".safetensors") for n in names):
        return None
    pickles = [n for n in names if n.lower().endswith(PICKLE_SUFFIXES)]
    if pickles:
        return f"{os.path.join(where, pickles[0])!r} is a pickle weights file; {fix}"
    return None


def weights_refusal(
    where: str | os.PathLike[str], subfolder: str | None, options: dict[str, Any]
) -> str | None:
    """Why a component must not be loaded from ``where`` (+ ``subfolder``) with ``options`` (the
    ``from_pretrained`` keywords): ``use_safetensors=False``, pickle weights, a damaged
    safetensors file. None when loading may go ahead."""
    if options.get("use_safetensors", True) is False:
        return (
            "use_safetensors=False is refused: diffblocks loads model weights only from .safetensors "
            "files (pickle files can run code when loaded); drop the argument and convert the weights"
        )
    # a weights file given directly, else the folder the weights are read from
    folder = os.path.join(where, subfolder) if subfolder and os.path.isdir(where) else os.fspath(where)
    return pickle_weights_problem(folder) or safetensors_folder_problem(folder)


def safetensors_problem(file: str | os.PathLike[str]) -> str | None:
    """Why the ``.safetensors`` file is unreadable (truncated, corrupt header), or None.

    Reads only the header (8-byte length, then JSON), so it is cheap and needs no torch."""
    file = os.fspath(file)
    fix = "re-save or re-download it (the file is incomplete or damaged)"
    try:
        size = os.path.getsize(file)
        with open(file, "rb") as fh:
            head = fh.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if length < 2 or length > min(size - 8, 100 * 2**20):
                return f"{file!r} is not a valid safetensors file (bad header length); {fix}"
            header = json.loads(fh.read(length).decode("utf-8"))
    except OSError as exc:
        return f"{file!r} cannot be read: {exc.strerror}"
    except (UnicodeDecodeError, ValueError):
        return f"{file!r} is not a valid safetensors file (corrupt header); {fix}"
    if not isinstance(header, dict):
        return f"{file!r} is not a valid safetensors file (corrupt header); {fix}"
    end = 0
    for key, entry in header.items():
        offsets = entry.get("data_offsets") if isinstance(entry, dict) and key != "__metadata__" else None
        if isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets):
            end = max(end, offsets[1])
    if 8 + length + end > size:
        return f"{file!r} is truncated: {size} bytes, the header describes {8 + length + end}; {fix}"
    return None


def safetensors_folder_problem(folder: str | os.PathLike[str]) -> str | None:
    """The first problem of the ``.safetensors`` files directly in ``folder``, or None."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return None
    for name in sorted(os.listdir(folder)):
        if name.endswith(".safetensors"):
            problem = safetensors_problem(os.path.join(folder, name))
            if problem:
                return problem
    return None


__all__ = [
    "DTYPE_NAMES",
    "dtype_from_name",
    "pickle_weights_problem",
    "safetensors_folder_problem",
    "safetensors_problem",
    "weights_refusal",
]
