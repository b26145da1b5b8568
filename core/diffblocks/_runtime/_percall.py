"""One pipeline call's view of the components.

A scheduler keeps per-run state (its timesteps, step index, multistep history), so two calls of
one pipeline running at once on a shared scheduler would corrupt each other. Each call gets its
own copy of such components; models (stateless in inference) and everything else are shared.
"""

from __future__ import annotations

import copy
from typing import Any

#: Classes (by name, anywhere in the MRO) whose objects keep per-run state: diffusers' guiders
#: track the current step.
_STATEFUL_BASES = frozenset({"SchedulerMixin", "BaseGuidance"})


def is_stateful(value: Any) -> bool:
    """Whether ``value`` changes while a pipeline runs: a scheduler (it has ``set_timesteps``) or
    a guider that is not a model, or any object that says so with ``per_call_copy = True``."""
    if value is None or hasattr(value, "parameters"):
        return False
    if getattr(value, "per_call_copy", False) or callable(getattr(value, "set_timesteps", None)):
        return True
    return any(cls.__name__ in _STATEFUL_BASES for cls in type(value).__mro__)


def for_one_call(components: Any) -> Any:
    """``components`` itself when nothing in it is stateful, else a view of it whose stateful
    components are fresh copies (other components and the configs are the same objects)."""
    values: dict[str, Any] | None = components.__dict__.get("_values")
    if not values:
        return components
    stateful = [name for name, value in values.items() if is_stateful(value)]
    if not stateful:
        return components
    view = object.__new__(type(components))
    view.__dict__.update(components.__dict__)
    view.__dict__["_values"] = {
        name: copy.deepcopy(value) if name in stateful else value for name, value in values.items()
    }
    return view


__all__ = ["for_one_call", "is_stateful"]
