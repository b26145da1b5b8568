"""The targets of the static entry points: ``diffblocks_diffusers.blocks:<family>.<name>``.

``<family>`` is a namespace object and ``<name>`` a block class made on first use (importing
diffusers then), for ``auto``, a workflow or a top-level sub-block of the family's auto preset.
"""

from __future__ import annotations

from typing import Any

from ._table import TABLE

_NAMESPACES: dict[str, FamilyBlocks] = {}


class FamilyBlocks:
    """The block classes of one family, made on first attribute access."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._made: dict[str, type] = {}

    def names(self) -> list[str]:
        info = TABLE["families"][self.family]
        return ["auto", *info["workflows"], *info["sub_blocks"]]

    def __getattr__(self, name: str) -> type:
        if name.startswith("_"):
            raise AttributeError(name)
        made = self._made.get(name)
        if made is None:
            if name not in self.names():
                from ._api import unknown_name

                raise AttributeError(str(unknown_name(self.family, name)))
            from ._factory import named_block_class

            made = self._made[name] = named_block_class(self.family, name)
        return made

    def __repr__(self) -> str:
        return f"<diffusers family {self.family!r} blocks: {', '.join(self.names())}>"


def __getattr__(name: str) -> Any:
    if name in TABLE["families"]:
        return _NAMESPACES.setdefault(name, FamilyBlocks(name))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
