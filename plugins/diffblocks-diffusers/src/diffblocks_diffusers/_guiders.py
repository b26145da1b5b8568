"""diffusers' guiders by name: ``"pag"``, ``{"type": "apg", "guidance_scale": 7.0}``, ...

The names and parameters come from the static table, so they can be listed without importing
diffusers; the classes are imported only when a guider is built.
"""

from __future__ import annotations

import difflib
from typing import Any

from ._table import TABLE


def guider_names() -> dict[str, str]:
    """Every accepted name (class names and aliases, lowercase) -> diffusers class name."""
    names: dict[str, str] = {}
    for cls_name, info in TABLE["guiders"].items():
        names[cls_name.lower()] = cls_name
        for alias in info["aliases"]:
            names[alias] = cls_name
    return names


def guider_class_name(kind: str) -> str:
    """The diffusers class for a guider name; a ValueError with close names otherwise."""
    names = guider_names()
    key = kind.strip().lower().replace("-", "_")
    if key in names:
        return names[key]
    close = difflib.get_close_matches(key, list(names), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"guider {kind!r} is not a diffusers guider.{hint} Known: {', '.join(sorted(names))}")


def _check_params(cls_name: str, params: dict[str, Any]) -> None:
    known = TABLE["guiders"][cls_name]["params"]
    unknown = [k for k in params if k not in known]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, list(known), n=1)
            hints.append(repr(k) + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(
            f"guider {cls_name} has no parameter {', '.join(hints)}; its parameters are: {', '.join(known)}"
        )


def resolve_guider(spec: Any, current: Any = None) -> Any:
    """A guider object from ``spec``.

    ``spec`` is a guider object (used as is), a name (``"cfg"``, ``"pag"``, a class name), or a
    dict: ``{"type": name, **params}``, or only ``params`` to change the ``current`` guider's
    config (``{"guidance_scale": 5.0}``).
    """
    import diffusers.guiders as guiders

    if isinstance(spec, guiders.BaseGuidance):
        return spec
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict):
        raise ValueError(
            f"guider must be a name, a table of parameters (with an optional 'type') or a guider "
            f"object, not {type(spec).__name__}"
        )
    params = dict(spec)
    kind = params.pop("type", None)
    if kind is None:
        if current is None:
            raise ValueError("guider parameters without 'type' need a current guider to update")
        cls_name = type(current).__name__
        base = {k: v for k, v in dict(current.config).items() if not k.startswith("_")}
    else:
        cls_name = guider_class_name(str(kind))
        base = {}
    if cls_name in TABLE["guiders"]:
        _check_params(cls_name, params)
    cls = getattr(guiders, cls_name)
    return cls(**{**base, **params})
