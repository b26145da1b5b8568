"""Reading a spec file's text: format by extension, parsing with locations for every problem,
and refusing values no pipeline input can take (NaN, integers past int64, hostile nesting)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from .._model._errors import CompositionError, Problem

SPEC_VERSION = 1
TOP_KEYS = {"diffblocks_spec", "description", "workflow", "blocks", "inputs", "components", "provenance"}
NODE_KEYS = {"type", "blocks", "triggers", "default"}
COMPONENT_KEYS = {"path", "subfolder", "dtype", "variant"}
#: Deepest nesting of tables/arrays a spec file may have (far beyond any real pipeline).
MAX_DEPTH = 64
#: Integers outside int64 are refused: nothing a pipeline takes needs them, and they overflow tensors.
INT_LIMIT = 2**63


def spec_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".toml", ".json"):
        return suffix[1:]
    raise CompositionError(
        [Problem("bad-extension", "", None, f"{path.name!r}: use a .toml or .json file name")], str(path)
    )


def inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or below it (both absolute and normalised)."""
    return os.path.commonpath([path, folder]) == folder


class _HugeInt(str):
    """A JSON integer too long to convert safely; reported with its location after parsing."""


def _json_int(text: str) -> int | _HugeInt:
    # Python refuses to convert integers past 4300 digits with a bare ValueError and no location
    return _HugeInt(text) if len(text.lstrip("-")) > 19 else int(text)


def _too_deep_at(text: str) -> str | None:
    """``line L, column C`` where brackets nest deeper than MAX_DEPTH (strings skipped), else None.

    Checked before parsing: the JSON and TOML parsers recurse per level and would end in
    RecursionError on a hostile file."""
    depth, line, col, quote, escaped, comment = 0, 1, 0, "", False, False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, comment = line + 1, 0, False
        if comment:
            continue
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "#":
            comment = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return f"line {line}, column {col}"
        elif ch in "]}":
            depth -= 1
    return None


def _child(where: str, key: Any) -> str:
    """The dotted location of ``key`` inside ``where`` (``inputs.sizes[2]``)."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def _value_problems(data: Any) -> list[Problem]:
    """Values no pipeline input can take, with their dotted location: NaN/infinity, integers
    beyond int64, and nesting deeper than MAX_DEPTH (walked iteratively, never recursively)."""
    problems: list[Problem] = []
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems.append(
                Problem("too-deep", where, None, f"nested more than {MAX_DEPTH} levels deep; flatten it")
            )
            continue
        items: Any = (
            value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        )
        for key, item in items:
            stack.append((item, _child(where, key), depth + 1))
        if isinstance(value, _HugeInt) or (
            isinstance(value, int) and not isinstance(value, bool) and not -INT_LIMIT <= value < INT_LIMIT
        ):
            shown = str(value) if len(str(value)) <= 24 else f"{str(value)[:12]}...({len(str(value))} digits)"
            problems.append(
                Problem(
                    "too-large",
                    where,
                    None,
                    f"the integer {shown} is outside the 64-bit range; use a smaller value",
                )
            )
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(
                Problem("not-finite", where, None, f"{value} is not a finite number; give a finite value")
            )
    return sorted(problems, key=lambda pr: pr.path)


def read_spec_file(path: Path) -> dict[str, Any]:
    fmt = spec_format(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CompositionError(
            [Problem("unreadable", "", None, f"cannot read the file: {exc.strerror}")], str(path)
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CompositionError(
            [
                Problem(
                    "encoding",
                    f"line {line}, byte {exc.start}",
                    None,
                    f"the file is not valid UTF-8 ({exc.reason}); save it as UTF-8",
                )
            ],
            str(path),
        ) from None
    deep = _too_deep_at(text)
    if deep is not None:
        raise CompositionError(
            [
                Problem(
                    "too-deep",
                    deep,
                    None,
                    f"tables/arrays nested more than {MAX_DEPTH} levels deep; flatten it",
                )
            ],
            str(path),
        )
    try:
        data = _decode(text, fmt, path)
    except RecursionError:  # a nesting the bracket scan cannot see (e.g. TOML dotted keys)
        raise CompositionError(
            [Problem("too-deep", "", None, f"nested too deeply to read; keep it under {MAX_DEPTH} levels")],
            str(path),
        ) from None
    if not isinstance(data, dict):
        raise CompositionError(
            [Problem("wrong-type", "", None, "the file must hold a table/object at the top")], str(path)
        )
    problems = _value_problems(data)
    if problems:
        raise CompositionError(problems, str(path))
    return data


def _decode(text: str, fmt: str, path: Path) -> Any:
    if fmt == "json":

        def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            for k, v in pairs:
                if k in seen:
                    raise ValueError(f"duplicate key {k!r}")
                seen[k] = v
            return seen

        try:
            return json.loads(text, object_pairs_hook=no_duplicates, parse_int=_json_int)
        except json.JSONDecodeError as exc:
            raise CompositionError(
                [
                    Problem(
                        "syntax",
                        f"line {exc.lineno}, column {exc.colno}",
                        None,
                        f"{exc.msg}; fix the JSON syntax there",
                    )
                ],
                str(path),
            ) from exc
        except ValueError as exc:
            raise CompositionError(
                [Problem("duplicate-key", "", None, f"{exc}; each key may appear once")], str(path)
            ) from exc
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CompositionError(
            [Problem("syntax", "", None, f"{exc}; fix the TOML syntax there")], str(path)
        ) from exc
    except ValueError as exc:  # an integer literal too long to convert
        raise CompositionError(
            [Problem("too-large", "", None, f"{exc}; use a smaller number")], str(path)
        ) from exc
