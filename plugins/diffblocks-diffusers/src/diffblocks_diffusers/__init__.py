"""diffblocks-diffusers: every Modular Diffusers family of diffusers, composable by name.

Importing this package imports neither torch nor diffusers; using a block does.
"""

from __future__ import annotations

from ._api import UnknownWorkflowError, adapt, families, resolve_family, workflow, workflows
from ._guiders import guider_class_name, guider_names
from ._names import block_name, family_name
from ._table import TABLE

DIFFUSERS_VERSION: str = TABLE["diffusers_version"]


def resolve_guider(spec: object, current: object = None) -> object:
    """A diffusers guider from a name, a parameter table or an object (imports diffusers)."""
    from ._guiders import resolve_guider as _resolve

    return _resolve(spec, current)


__all__ = [
    "DIFFUSERS_VERSION",
    "TABLE",
    "UnknownWorkflowError",
    "adapt",
    "block_name",
    "families",
    "family_name",
    "guider_class_name",
    "guider_names",
    "resolve_family",
    "resolve_guider",
    "workflow",
    "workflows",
]
