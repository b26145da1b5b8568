"""Checks on a block class, made when the class is defined (hooked in ``__init_subclass__``).

A declaration with a misspelled name (``input``, ``outputs``, ``intermediate_output``) is never
read by the framework, and one written as a method instead of a property reads as a bound method:
both used to surface much later as a confusing missing-input or wrong-type error, or not at all.
"""

from __future__ import annotations

import inspect
from typing import Any

from .._model._errors import BlockDefinitionError, did_you_mean

#: What the framework reads from a block, by the base class that declares it.
DECLARATIONS = (
    "description",
    "inputs",
    "intermediate_inputs",
    "intermediate_outputs",
    "expected_components",
    "expected_configs",
    "loop_inputs",
    "loop_intermediate_inputs",
    "loop_intermediate_outputs",
    "loop_expected_components",
    "loop_expected_configs",
)
#: Misspellings too far from the right name for the did-you-mean matcher.
KNOWN_MISSPELLINGS = {
    "output": "intermediate_outputs",
    "outputs": "intermediate_outputs",
    "output_params": "intermediate_outputs",
    "input_params": "inputs",
    "components": "expected_components",
    "configs": "expected_configs",
}


def _declared_by_bases(cls: type, name: str) -> bool:
    return any(name in vars(base) for base in cls.__mro__[1:])


def _looks_like_declaration(value: Any) -> bool:
    return isinstance(value, (property, list, tuple)) or inspect.isfunction(value)


def check_declarations(cls: type) -> None:
    """Raise BlockDefinitionError naming the class and the fix for a misspelled declaration or
    a declaration written as a method instead of a property."""
    known = [n for n in DECLARATIONS if _declared_by_bases(cls, n)]
    where = f"block class {cls.__qualname__} ({cls.__module__})"
    for name, value in vars(cls).items():
        if name.startswith("__"):
            continue
        if name in known:
            if inspect.isfunction(value):
                raise BlockDefinitionError(
                    f"{where}: {name} is defined as a method; the framework reads it as a property. "
                    f"Put @property on the line above 'def {name}(self)'."
                )
            continue
        if name in DECLARATIONS or _declared_by_bases(cls, name) or not _looks_like_declaration(value):
            continue
        right = KNOWN_MISSPELLINGS.get(name)
        if right is None:
            close = did_you_mean(name, known, n=1)
            right = close[0] if close and _close_enough(name, close[0]) else None
        if right is not None and right in known:
            raise BlockDefinitionError(
                f"{where}: {name!r} is not a block declaration, so the framework never reads it; "
                f"did you mean {right!r}? Rename it to {right} (a @property returning a list)."
            )


def _close_enough(name: str, right: str) -> bool:
    """A stricter cut than did_you_mean's: only near-identical names count as misspellings, so a
    helper property such as ``input_image`` is left alone."""
    import difflib

    return difflib.SequenceMatcher(None, name, right).ratio() >= 0.8


__all__ = ["check_declarations"]
