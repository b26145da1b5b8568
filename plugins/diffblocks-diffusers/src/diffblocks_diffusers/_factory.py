"""Block classes for registered names (imports diffusers)."""

from __future__ import annotations

from typing import Any

import diffusers

from ._adapter import DiffusersAuto, DiffusersSequential, declare_rewrites, leaves, multi_class
from ._names import AUTO, camel, family_key
from ._table import TABLE


def diffusers_node(family: str, name: str) -> Any:
    """A fresh diffusers block for ``diffusers.<family>.<name>``."""
    info = TABLE["families"][family]
    auto = getattr(diffusers, info["blocks_class"])()
    if name == AUTO:
        return auto
    if name in info["workflows"]:
        return auto.get_workflow(name)
    return auto.sub_blocks[name]


def named_block_class(family: str, name: str) -> type:
    """A class whose instances are ``diffusers.<family>.<name>``, built fresh each time."""
    base: Any = multi_class(diffusers_node(family, name))

    def __init__(self: Any) -> None:
        base.__init__(self, diffusers_node(family, name))
        declare_rewrites(self)
        # the blocks run in the pipeline class of the family they are registered under (diffusers
        # reuses blocks across families: wan-animate-2-distilled's say wan-animate-2)
        for leaf in leaves(self):
            leaf.family, leaf.model_name = family, family_key(family)
        if isinstance(self, (DiffusersSequential, DiffusersAuto)):
            self.model_name = family_key(family)

    info = TABLE["families"][family]
    kind = "auto preset" if name == AUTO else "workflow" if name in info["workflows"] else "sub-block"
    summary = f"diffusers {info['model_name']} {kind} {name!r} ({info['blocks_class']})"

    def description(self: Any) -> str:
        own = base.description.fget(self) if isinstance(base.description, property) else ""
        return f"{summary}. {own}".strip() if own else summary

    return type(
        f"{camel(family)}{camel(name)}",
        (base,),
        {
            "__init__": __init__,
            "description": property(description),
            "__module__": "diffblocks_diffusers.blocks",
            "__qualname__": f"{family}.{name}",
        },
    )
