"""Public helpers: families and workflows by name, with did-you-mean errors."""

from __future__ import annotations

import difflib
from typing import Any

from diffblocks import BlockNotFoundError

from ._names import AUTO, block_name, family_name
from ._table import TABLE


class UnknownWorkflowError(BlockNotFoundError):
    """A name that is not a workflow (or sub-block) of a diffusers family."""

    def __init__(self, family: str, name: str, choices: list[str]) -> None:
        close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
        super().__init__(
            block_name(family, name),
            [block_name(family, c) for c in close],
            [block_name(family, c) for c in choices],
        )
        self.family, self.workflow, self.choices, self.close_names = family, name, choices, close

    def __str__(self) -> str:
        hint = f" Did you mean {', '.join(repr(c) for c in self.close_names)}?" if self.close_names else ""
        return (
            f"diffusers family {self.family!r} has no workflow or sub-block {self.workflow!r}.{hint} "
            f"Its names are: {', '.join(self.choices)} (use them as 'diffusers.{self.family}.<name>')."
        )


def families() -> list[str]:
    """Every family name (``stable_diffusion_xl``, ``flux``, ...)."""
    return list(TABLE["families"])


def resolve_family(name: str) -> str:
    """A family by its diffblocks name or diffusers' model name; KeyError with close names."""
    key = family_name(name.removeprefix("diffusers."))
    if key in TABLE["families"]:
        return key
    close = difflib.get_close_matches(key, families(), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(f"no diffusers family {name!r}.{hint} Families: {', '.join(families())}")


def workflows(family: str) -> list[str]:
    """The workflow names of a family (may be empty: then only ``auto``)."""
    return list(TABLE["families"][resolve_family(family)]["workflows"])


def unknown_name(family: str, name: str) -> UnknownWorkflowError:
    info = TABLE["families"][family]
    return UnknownWorkflowError(family, name, [AUTO, *info["workflows"], *info["sub_blocks"]])


def workflow(family: str, name: str = AUTO) -> Any:
    """The blocks of ``diffusers.<family>.<name>`` through the registry (an instance to compose).

    An unknown ``name`` raises :class:`UnknownWorkflowError` with close names from that family.
    """
    from diffblocks import get_block

    fam = resolve_family(family)
    info = TABLE["families"][fam]
    if name != AUTO and name not in info["workflows"] and name not in info["sub_blocks"]:
        raise unknown_name(fam, name)
    return get_block(block_name(fam, name))


def adapt(block: Any) -> Any:
    """Any diffusers block (class or instance; instances are copied) as a diffblocks block."""
    import copy

    from ._adapter import convert

    return convert(block if isinstance(block, type) else copy.deepcopy(block))
