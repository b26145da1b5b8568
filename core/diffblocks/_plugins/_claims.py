"""The registry of claims: which distribution registered which block name, model family and
component loader, what conflicts, and which override settles a conflict.

Plugins never write here directly: their registrars fill a :class:`Stage`, which is committed
whole when the plugin loaded, or dropped when it failed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from .._model._errors import NameConflictError
from ._family import ModelFamily

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
RUNTIME = "<runtime>"


def check_name(name: Any) -> str:
    """``name`` if it is a valid block name (lowercase ``namespace.name``), else ValueError."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(
            f"block name {name!r} is invalid: use lowercase 'namespace.name' (letters, digits, '_'), "
            f"e.g. 'acme.sharpen'"
        )
    return name


@dataclass
class BlockEntry:
    """One claim on a block name."""

    name: str
    distribution: str
    version: str | None
    target: str | None
    obj: Any = None
    imported: bool = False
    override: bool = False
    conflict: bool = False

    def is_imported(self) -> bool:
        """Loaded by the registry, or its module already imported by someone else."""
        if self.imported:
            return True
        return bool(self.target) and self.target.partition(":")[0] in sys.modules  # type: ignore[union-attr]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "target": self.target,
            "imported": self.is_imported(),
            "conflict": self.conflict,
        }


@dataclass
class Claim:
    """One claim on a model family name or a component type name; ``value`` is the family or
    the loader."""

    name: str
    distribution: str
    version: str | None
    value: Any
    override: bool = False
    conflict: bool = False


class _ClaimLike(Protocol):
    name: str
    distribution: str
    version: str | None
    override: bool
    conflict: bool


C = TypeVar("C", bound=_ClaimLike)


class ClaimTable(Generic[C]):
    """Claims on names of one kind. A name claimed by several distributions is a conflict:
    every claim is marked, and using the name is refused unless exactly one claim overrides."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # for messages: "block name", "model family", "component loader"
        self._by_name: dict[str, list[C]] = {}

    def add(self, claim: C) -> None:
        claims = self._by_name.setdefault(claim.name, [])
        # a distribution registering a name again replaces its own earlier claim
        claims[:] = [c for c in claims if c.distribution != claim.distribution]
        claims.append(claim)
        self._mark(claim.name)

    def withdraw(self, distribution: str | None, name: str | None = None) -> None:
        """Drop ``distribution``'s claims (everyone's if None), on ``name`` only if given."""
        for key in [name] if name is not None else list(self._by_name):
            kept = [
                c
                for c in self._by_name.get(key, [])
                if distribution is not None and c.distribution != distribution
            ]
            if kept:
                self._by_name[key] = kept
                self._mark(key)
            else:
                self._by_name.pop(key, None)

    def _mark(self, name: str) -> None:
        claims = self._by_name[name]
        for c in claims:
            c.conflict = len(claims) > 1

    def claims(self, name: str) -> list[C]:
        return list(self._by_name.get(name, []))

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __iter__(self) -> Iterator[C]:
        return (c for name in sorted(self._by_name) for c in self._by_name[name])

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def winner(self, name: str) -> C | None:
        """The claim ``name`` means: None if unclaimed; raises NameConflictError if contested."""
        claims = self._by_name.get(name)
        if not claims:
            return None
        if len(claims) == 1:
            return claims[0]
        overrides = [c for c in claims if c.override]
        if len(overrides) == 1:
            return overrides[0]
        raise NameConflictError(name, [_who(c) for c in claims], kind=self.kind)

    def contested(self) -> dict[str, list[C]]:
        """Every name with more than one claim (settled by an override or not)."""
        return {n: list(cs) for n, cs in sorted(self._by_name.items()) if len(cs) > 1}

    def unresolved(self) -> list[str]:
        """Contested names that no single override settles."""
        return [n for n, cs in self.contested().items() if sum(c.override for c in cs) != 1]


def _who(claim: _ClaimLike) -> str:
    return f"{claim.distribution} {claim.version or ''}".strip()


@dataclass
class Stage:
    """The registrations of one plugin load (or one run-time call), committed together."""

    distribution: str
    version: str | None
    blocks: list[BlockEntry] = field(default_factory=list)
    families: list[Claim] = field(default_factory=list)
    loaders: list[Claim] = field(default_factory=list)


class Claims:
    """Block names, model families and component loaders, each a :class:`ClaimTable`."""

    def __init__(self) -> None:
        self.blocks: ClaimTable[BlockEntry] = ClaimTable("block name")
        self.families: ClaimTable[Claim] = ClaimTable("model family")
        self.loaders: ClaimTable[Claim] = ClaimTable("component loader")

    def commit(self, stage: Stage) -> None:
        for entry in stage.blocks:
            self.blocks.add(entry)
        for family in stage.families:
            self.families.add(family)
        for loader in stage.loaders:
            self.loaders.add(loader)

    def withdraw(self, distribution: str) -> None:
        """Drop everything ``distribution`` claimed."""
        self.blocks.withdraw(distribution)
        self.families.withdraw(distribution)
        self.loaders.withdraw(distribution)


# -- what hooks receive ---------------------------------------------------------------------


class BlockRegistrar:
    """What ``register_blocks`` receives; registrations are staged until the plugin has loaded."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    def register(self, name: str, block: Any, *, override: bool = False) -> None:
        """Claim ``name`` for a block class, instance or ``"module:attr"`` (imported on first use)."""
        check_name(name)
        dist, version = self.stage.distribution, self.stage.version
        if isinstance(block, str):
            entry = BlockEntry(name, dist, version, block, override=override)
        else:
            check_block_object(name, block)
            entry = BlockEntry(name, dist, version, _describe(block), block, True, override)
        self.stage.blocks = [e for e in self.stage.blocks if e.name != name] + [entry]


class FamilyRegistrar:
    """What ``register_families`` receives."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    def register(self, family: ModelFamily, *, override: bool = False) -> None:
        """Claim ``family.name``; ``override=True`` deliberately replaces another distribution's."""
        if not isinstance(family, ModelFamily):
            raise TypeError(f"register_families expects ModelFamily objects, got {type(family).__name__}")
        family.distribution, family.version = self.stage.distribution, self.stage.version
        claim = Claim(family.name, self.stage.distribution, self.stage.version, family, override)
        self.stage.families = [c for c in self.stage.families if c.name != family.name] + [claim]


class ComponentLoaderRegistrar:
    """What ``register_component_loaders`` receives."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    def register(self, type_name: str, loader: Callable[..., Any], *, override: bool = False) -> None:
        """Claim the loading of components whose type is named ``type_name`` (never models)."""
        if not isinstance(type_name, str) or not type_name:
            raise TypeError(f"component loaders are registered by type name (a str), got {type_name!r}")
        if not callable(loader):
            raise TypeError(f"the loader for {type_name!r} is not callable: {loader!r}")
        claim = Claim(type_name, self.stage.distribution, self.stage.version, loader, override)
        self.stage.loaders = [c for c in self.stage.loaders if c.name != type_name] + [claim]


def _describe(block: Any) -> str:
    cls = block if isinstance(block, type) else type(block)
    return f"{cls.__module__}:{cls.__qualname__}"


def check_block_object(name: str, block: Any) -> None:
    """TypeError unless ``block`` is a ModularPipelineBlocks class or instance."""
    from .._blocks._base import ModularPipelineBlocks

    ok = isinstance(block, ModularPipelineBlocks) or (
        isinstance(block, type) and issubclass(block, ModularPipelineBlocks)
    )
    if not ok:
        raise TypeError(f"block {name!r}: {block!r} is not a ModularPipelineBlocks class or instance")
