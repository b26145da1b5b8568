"""The HTTP view of a pipeline's inputs: JSON Schema and a pydantic request model, both generated
from the pipeline's declared ``InputParam``s.

Only inputs a JSON client can send are exposed: a type hint is read as a union of parts and
parts that are not JSON values (tensors, generators, images, callables) are dropped; an input
left with no part is not part of the HTTP API. A per-row input (``X | list[X]``, as
``diffblocks._front._rows`` decides) takes one ``X``: each request is one row, and the batcher
stacks rows into lists. ``Literal[...]`` hints
become choices and ``Annotated[T, Ge(0), Le(1)]`` (annotated-types, as pydantic uses) ranges.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from .._front._rows import CALL_KEYWORDS, RESERVED, SEED_MAX, InputRules, is_per_row
from .._model._errors import suggest

#: Inputs the server sets itself: ``seed`` replaces the generator, images are always PIL (and the
#: pipeline call's own keywords are never inputs).
SERVER_INPUTS = RESERVED | CALL_KEYWORDS | {"generator", "output_type", "show_progress", "device"}
#: Largest seed a request may give: the one seed rule of run, batch and serve.
MAX_SEED = SEED_MAX

_SCALARS: dict[str, tuple[type, str]] = {
    "str": (str, "string"),
    "int": (int, "integer"),
    "float": (float, "number"),
    "bool": (bool, "boolean"),
}


@dataclass
class HttpInput:
    """One input of the HTTP API: its JSON Schema and the Python type pydantic validates."""

    name: str
    schema: dict[str, Any]
    annotation: Any
    required: bool
    default: Any = None
    constraints: dict[str, Any] = field(default_factory=dict)


def _parts(hint: Any) -> list[Any]:
    """A type hint as the list of its union members (strings split on top-level '|')."""
    if isinstance(hint, str):
        depth, start, out = 0, 0, []
        for i, ch in enumerate(hint):
            depth += ch == "["
            depth -= ch == "]"
            if ch == "|" and depth == 0:
                out.append(hint[start:i].strip())
                start = i + 1
        out.append(hint[start:].strip())
        return [p for p in out if p]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return [p for arg in typing.get_args(hint) for p in _parts(arg)]
    return [hint]


def _array(item: tuple[Any, dict[str, Any]] | None) -> tuple[Any, dict[str, Any]]:
    if item is None:
        return list, {"type": "array"}
    generic: Any = list
    return generic[item[0]], {"type": "array", "items": item[1]}


def _one(part: Any) -> tuple[Any, dict[str, Any]] | None:
    """(python type, JSON schema) for one union member, or None when JSON cannot carry it."""
    if isinstance(part, str):
        if part in _SCALARS:
            return _SCALARS[part][0], {"type": _SCALARS[part][1]}
        if part in ("dict", "Dict") or part.startswith(("dict[", "Dict[")):
            return dict[str, Any], {"type": "object"}
        if part in ("list", "List") or part.startswith(("list[", "List[")):
            text = part[part.find("[") + 1 : -1].strip() if "[" in part else ""
            item = _one(text) if text else None
            return None if text and item is None else _array(item)
        return None
    if part is type(None):
        return None
    if typing.get_origin(part) is typing.Literal:
        choices = list(typing.get_args(part))
        return part, {"enum": choices}
    if typing.get_origin(part) is typing.Annotated:
        base, *meta = typing.get_args(part)
        known = _one(base)
        if known is None:
            return None
        schema = dict(known[1])
        for m in meta:  # annotated-types' Ge/Gt/Le/Lt/Interval carry these attribute names
            for attr, key in (
                ("ge", "minimum"),
                ("gt", "exclusiveMinimum"),
                ("le", "maximum"),
                ("lt", "exclusiveMaximum"),
            ):
                if getattr(m, attr, None) is not None:
                    schema[key] = getattr(m, attr)
        return part, schema
    for py, json_type in _SCALARS.values():
        if part is py:
            return py, {"type": json_type}
    if part is dict or typing.get_origin(part) is dict:
        return dict[str, Any], {"type": "object"}
    if part is list or typing.get_origin(part) is list:
        args = typing.get_args(part)
        item = _one(args[0]) if args else None
        return None if args and item is None else _array(item)
    return None


def http_inputs(blocks: Any, defaults: dict[str, Any] | None = None) -> list[HttpInput]:
    """The inputs a request may give, in declaration order (required ones first).

    ``defaults`` are the pipeline's own input values (a spec file's ``[inputs]``; None reads them
    from ``blocks`` as the row executor does): they make an input optional and are its default.
    """
    if defaults is None:
        defaults = InputRules.from_blocks(blocks).defaults
    out: list[HttpInput] = []
    seen: set[str] = set()
    for param in blocks.inputs:
        name = param.name
        if not name or name in seen or name in SERVER_INPUTS or param.kwargs_type:
            continue
        seen.add(name)
        parts = [p for p in (_one(h) for h in _parts(param.type_hint)) if p is not None]
        if param.type_hint is None:
            continue  # undeclared type: nothing safe to accept
        if is_per_row(param.type_hint):
            # one value per request (a row); the batcher builds the list, as _rows decides
            parts = [p for p in parts if p[1].get("type") != "array"] or parts
        if not parts:
            continue
        schema: dict[str, Any] = dict(parts[0][1]) if len(parts) == 1 else {"anyOf": [p[1] for p in parts]}
        annotation: Any = parts[0][0] if len(parts) == 1 else typing.Union[tuple(p[0] for p in parts)]  # noqa: UP007
        declared = _declared_constraints(param, numeric=schema.get("type") in ("integer", "number"))
        schema.update(declared)
        if "enum" in declared and all(isinstance(c, (str, int, float, bool)) for c in declared["enum"]):
            # choices become the request model's own check: a value outside them is a 422
            annotation = typing.Literal[tuple(declared["enum"])]
        if param.description:
            schema["description"] = param.description
        default = defaults.get(name, param.default)
        if default is not None:
            schema["default"] = default
        required = bool(param.required) and defaults.get(name) is None
        out.append(HttpInput(name, schema, annotation, required, default))
    out.sort(key=lambda i: not i.required)
    return out


def _declared_constraints(param: Any, numeric: bool) -> dict[str, Any]:
    """An InputParam's ``choices``/``ge``/``gt``/``le``/``lt`` as JSON Schema keywords, so the
    OpenAPI document, pydantic's 422 and the page's form all know the range the block checks.
    Bounds apply to a number only (on a list or a union, the pipeline's own check reports them)."""
    out: dict[str, Any] = {}
    if param.choices is not None:
        out["enum"] = list(param.choices)
    if not numeric:
        return out
    for attr, key in (
        ("ge", "minimum"),
        ("gt", "exclusiveMinimum"),
        ("le", "maximum"),
        ("lt", "exclusiveMaximum"),
    ):
        if getattr(param, attr) is not None:
            out[key] = getattr(param, attr)
    return out


def json_schema(inputs: list[HttpInput], title: str) -> dict[str, Any]:
    """The JSON Schema of a request body: the pipeline's inputs plus ``seed``."""
    props = {i.name: i.schema for i in inputs}
    props.setdefault(
        "seed",
        {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_SEED,
            "description": "random seed; omitted: the server picks one and returns it",
        },
    )
    return {
        "title": title,
        "type": "object",
        "properties": props,
        "required": [i.name for i in inputs if i.required],
        "additionalProperties": False,
    }


def request_model(inputs: list[HttpInput], title: str) -> type[BaseModel]:
    """A pydantic model of the request body: unknown names and wrong types are rejected, JSON
    values are not coerced (``"5"`` is not an int)."""
    fields: dict[str, Any] = {}
    for i in inputs:
        extra = {
            k: v
            for k, v in i.schema.items()
            if k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        }
        bounds = {
            {"minimum": "ge", "maximum": "le", "exclusiveMinimum": "gt", "exclusiveMaximum": "lt"}[k]: v
            for k, v in extra.items()
        }
        description = i.schema.get("description")
        if i.required:
            fields[i.name] = (i.annotation, Field(..., description=description, **bounds))
        else:
            # the value stays None (the pipeline applies its default); the schema shows it
            shown = {"default": i.default} if i.default is not None else None
            fields[i.name] = (
                i.annotation | None,
                Field(None, description=description, json_schema_extra=shown, **bounds),
            )
    if "seed" not in fields:
        fields["seed"] = (int | None, Field(None, ge=0, le=MAX_SEED, description="random seed"))
    config = ConfigDict(extra="forbid", strict=True, protected_namespaces=())
    model: type[BaseModel] = create_model(title, __config__=config, **fields)
    return model


def unknown_message(name: str, known: list[str]) -> str:
    """'unknown input' with a did-you-mean, the same wording for every route."""
    return f"unknown input {name!r}{suggest(name, known, aside=True)}. Accepted: {', '.join(known)}"
