"""The registry of blocks, families and component loaders, filled lazily from plugins."""

from __future__ import annotations

import copy
import importlib
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .._model._errors import (
    BlockImportError,
    BlockNotFoundError,
    NameConflictError,
    PluginError,
    did_you_mean,
)
from .._model._imports import import_target
from ._discovery import PluginInfo, incompatibility, plugin_filter, scan, strict_mode
from ._family import ModelFamily

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
RUNTIME = "<runtime>"


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


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(
            f"block name {name!r} is invalid: use lowercase 'namespace.name' (letters, digits, '_'), "
            f"e.g. 'acme.sharpen'"
        )
    return name


class BlockRegistrar:
    """What ``register_blocks`` receives. Registrations are staged and committed only if the whole
    plugin loads, so a failing plugin leaves nothing behind."""

    def __init__(self, distribution: str, version: str | None) -> None:
        self.distribution, self.version = distribution, version
        self.staged: list[BlockEntry] = []

    def register(self, name: str, block: Any, *, override: bool = False) -> None:
        check_name(name)
        if isinstance(block, str):
            entry = BlockEntry(name, self.distribution, self.version, block, override=override)
        else:
            _check_block_object(name, block)
            entry = BlockEntry(name, self.distribution, self.version, _describe(block), block, True, override)
        self.staged.append(entry)


class FamilyRegistrar:
    """What ``register_families`` receives."""

    def __init__(self, distribution: str, version: str | None) -> None:
        self.distribution, self.version = distribution, version
        self.staged: list[ModelFamily] = []

    def register(self, family: ModelFamily) -> None:
        if not isinstance(family, ModelFamily):
            raise TypeError(f"register_families expects ModelFamily objects, got {type(family).__name__}")
        family.distribution, family.version = self.distribution, self.version
        self.staged.append(family)


class ComponentLoaderRegistrar:
    """What ``register_component_loaders`` receives."""

    def __init__(self) -> None:
        self.staged: dict[str, Callable[..., Any]] = {}

    def register(self, type_name: str, loader: Callable[..., Any]) -> None:
        self.staged[type_name] = loader


def _describe(block: Any) -> str:
    cls = block if isinstance(block, type) else type(block)
    return f"{cls.__module__}:{cls.__qualname__}"


def _check_block_object(name: str, block: Any) -> None:
    from .._blocks._base import ModularPipelineBlocks

    ok = isinstance(block, ModularPipelineBlocks) or (
        isinstance(block, type) and issubclass(block, ModularPipelineBlocks)
    )
    if not ok:
        raise TypeError(f"block {name!r}: {block!r} is not a ModularPipelineBlocks class or instance")


class Registry:
    """Blocks, families and component loaders by name.

    With ``autoload=True`` (the default registry) installed plugins are discovered on first use:
    static ``diffblocks.blocks`` entry points are read without importing anything, and the hook
    modules of the ``diffblocks`` group are imported and called, each in isolation.
    """

    def __init__(self, *, autoload: bool = True) -> None:
        self.autoload = autoload
        self._claims: dict[str, list[BlockEntry]] = {}
        self._families: dict[str, list[ModelFamily]] = {}
        self._loaders: dict[str, Callable[..., Any]] = {}
        self._plugins: dict[str, PluginInfo] = {}
        self._unavailable: dict[str, str] = {}  # block name -> distribution that is not loaded
        self._scanned = not autoload
        self._hooked = not autoload
        self._pm: Any = None

    # -- discovery ------------------------------------------------------------------------
    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        from .._model._version import __version__

        allowed = plugin_filter()
        for info in scan():
            self._plugins[info.distribution] = info
            if not allowed(info):
                info.status = "disabled"
            elif (why := incompatibility(info, __version__)) is not None:
                info.status, info.error = "incompatible", why
            if info.status != "pending":
                for name, _ in info.blocks:
                    self._unavailable.setdefault(name, f"{info.distribution} ({info.status})")
                continue
            entries = []
            try:
                for name, target in info.blocks:
                    entries.append(BlockEntry(check_name(name), info.distribution, info.version, target))
            except ValueError as exc:
                self._fail(info, exc)
                continue
            for entry in entries:
                self._add(entry)
            if not info.hooks:
                info.status = "loaded"

    def _load_hooks(self) -> None:
        self._scan()
        if self._hooked:
            return
        self._hooked = True
        for info in self._plugins.values():
            if info.status == "pending" and info.hooks:
                self._load_plugin(info)

    def _manager(self) -> Any:
        if self._pm is None:
            import pluggy

            from ._hookspecs import PROJECT, DiffblocksSpecs

            self._pm = pluggy.PluginManager(PROJECT)
            self._pm.add_hookspecs(DiffblocksSpecs)
        return self._pm

    def _load_plugin(self, info: PluginInfo, objects: list[Any] | None = None) -> None:
        """Import a plugin's hook modules and run its hooks; commit all or nothing."""
        pm = self._manager()
        registered: list[Any] = []
        blocks = BlockRegistrar(info.distribution, info.version)
        families = FamilyRegistrar(info.distribution, info.version)
        loaders = ComponentLoaderRegistrar()
        args = {
            "register_blocks": blocks,
            "register_families": families,
            "register_component_loaders": loaders,
        }
        try:
            for ep_name, target in info.hooks:
                obj = (
                    objects.pop(0)
                    if objects
                    else import_target(target)
                    if ":" in target
                    else importlib.import_module(target)
                )
                pm.register(obj, name=f"{info.distribution}:{ep_name}:{id(obj)}")
                registered.append(obj)
                for caller in pm.get_hookcallers(obj) or []:
                    for impl in caller.get_hookimpls():
                        if impl.plugin is obj:
                            impl.function(**{a: args[caller.name] for a in impl.argnames})
        except Exception as exc:
            for obj in registered:
                pm.unregister(obj)
            self._fail(info, exc)
            return
        for entry in blocks.staged:
            self._add(entry)
        for family in families.staged:
            self._families.setdefault(family.name, []).append(family)
        self._loaders.update(loaders.staged)
        info.status = "loaded"

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        # drop whatever this distribution had added (its static entries)
        for name in list(self._claims):
            self._claims[name] = [c for c in self._claims[name] if c.distribution != info.distribution]
            if not self._claims[name]:
                del self._claims[name]
            else:
                self._mark_conflicts(name)
        info.status, info.exception = "failed", exc
        info.error = f"{type(exc).__name__}: {exc}"
        for name, _ in info.blocks:
            self._unavailable.setdefault(name, f"{info.distribution} (failed to load)")
        if strict_mode():
            raise PluginError(
                f"plugin {info.name!r} ({info.distribution} {info.version or ''}) failed to load: "
                f"{info.error}"
            ) from exc

    def _add(self, entry: BlockEntry) -> None:
        claims = self._claims.setdefault(entry.name, [])
        # the same distribution registering a name again replaces its own earlier claim
        claims[:] = [c for c in claims if c.distribution != entry.distribution]
        claims.append(entry)
        self._mark_conflicts(entry.name)

    def _mark_conflicts(self, name: str) -> None:
        claims = self._claims[name]
        for c in claims:
            c.conflict = len(claims) > 1

    # -- public API -----------------------------------------------------------------------
    def register(self, name: str, block: Any, *, override: bool = False, distribution: str = RUNTIME) -> None:
        """Register a block at run time (class, instance or ``"module:attr"``)."""
        self._load_hooks()
        registrar = BlockRegistrar(distribution, None)
        registrar.register(name, block, override=override)
        self._add(registrar.staged[0])

    def unregister(self, name: str, distribution: str | None = None) -> None:
        """Remove the claims on ``name`` (only ``distribution``'s, if given)."""
        self._load_hooks()
        claims = [
            c
            for c in self._claims.get(name, [])
            if distribution is not None and c.distribution != distribution
        ]
        if claims:
            self._claims[name] = claims
            self._mark_conflicts(name)
        else:
            self._claims.pop(name, None)

    def register_family(self, family: ModelFamily, distribution: str = RUNTIME) -> None:
        self._load_hooks()
        registrar = FamilyRegistrar(distribution, None)
        registrar.register(family)
        self._families.setdefault(family.name, []).append(family)

    def add_plugin(self, plugin: Any, name: str = "test-plugin", version: str | None = None) -> PluginInfo:
        """Register a plugin object (module or instance with hook implementations) now."""
        self._load_hooks()
        info = PluginInfo(name, name, version, hooks=[(name, repr(plugin))])
        self._plugins[name] = info
        self._load_plugin(info, objects=[plugin])
        if info.status == "failed":
            raise PluginError(f"plugin {name!r} failed to load: {info.error}") from info.exception
        return info

    def remove_plugin(self, name: str) -> None:
        """Undo :meth:`add_plugin`: its blocks, families and hook registrations go away."""
        info = self._plugins.pop(name, None)
        for key in list(self._claims):
            self.unregister(key, distribution=name)
        for fam in list(self._families):
            self._families[fam] = [f for f in self._families[fam] if f.distribution != name]
            if not self._families[fam]:
                del self._families[fam]
        if info is not None and self._pm is not None:
            for pname, obj in list(self._pm.list_name_plugin()):
                if pname.startswith(f"{name}:"):
                    self._pm.unregister(obj)

    def resolve(self, name: str) -> BlockEntry:
        """The claim that ``name`` means; raises if unknown or contested."""
        self._load_hooks()
        claims = self._claims.get(name)
        if not claims:
            known = list(self._claims)
            close = did_you_mean(name, known)
            raise BlockNotFoundError(name, close, known, self._unavailable.get(name))
        if len(claims) == 1:
            return claims[0]
        overrides = [c for c in claims if c.override]
        if len(overrides) == 1:
            return overrides[0]
        raise NameConflictError(name, [f"{c.distribution} {c.version or ''}".strip() for c in claims])

    def load(self, name: str) -> Any:
        """The registered class or instance behind ``name``, importing it on first use."""
        entry = self.resolve(name)
        if not entry.imported:
            assert entry.target is not None
            try:
                obj = import_target(entry.target)
                _check_block_object(name, obj)
            except Exception as exc:
                raise BlockImportError(name, entry.target, entry.distribution, exc) from exc
            entry.obj, entry.imported = obj, True
        return entry.obj

    def get_block(self, name: str) -> Any:
        """A new block instance for ``name``."""
        obj = self.load(name)
        block = obj() if isinstance(obj, type) else copy.deepcopy(obj)
        block.__dict__["_registered_name"] = name
        return block

    def list_blocks(self) -> list[BlockEntry]:
        self._load_hooks()
        return [c for name in sorted(self._claims) for c in self._claims[name]]

    def block_names(self) -> list[str]:
        self._load_hooks()
        return sorted(self._claims)

    def list_plugins(self) -> list[PluginInfo]:
        self._load_hooks()
        return list(self._plugins.values())

    def list_families(self) -> list[ModelFamily]:
        self._load_hooks()
        return [fams[-1] for _, fams in sorted(self._families.items())]

    def get_family(self, name: str) -> ModelFamily:
        self._load_hooks()
        fams = self._families.get(name)
        if not fams:
            known = ", ".join(sorted(self._families)) or "(none)"
            raise KeyError(f"no model family named {name!r}; registered families: {known}")
        return fams[-1]

    def find_family(self, name: str | None) -> ModelFamily | None:
        if not name:
            return None
        self._load_hooks()
        fams = self._families.get(name)
        return fams[-1] if fams else None

    def component_loader(self, type_name: str) -> Callable[..., Any] | None:
        self._load_hooks()
        return self._loaders.get(type_name)

    def component_loaders(self) -> dict[str, Callable[..., Any]]:
        """Every loader plugins registered, by component type name."""
        self._load_hooks()
        return dict(self._loaders)


_current: list[Registry] = []


def get_registry() -> Registry:
    """The registry in use: the default one over installed plugins, unless a test swapped it."""
    if not _current:
        _current.append(Registry())
    return _current[-1]


@contextmanager
def use_registry(registry: Registry) -> Iterator[Registry]:
    """Make ``registry`` the one ``get_block`` and friends use, inside the ``with`` block."""
    get_registry()
    _current.append(registry)
    try:
        yield registry
    finally:
        _current.remove(registry)


class RegistryProxy:
    """``diffblocks.registry``: always the registry in use (see :func:`use_registry`)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(get_registry(), name)

    def __repr__(self) -> str:
        return f"<diffblocks registry proxy for {get_registry()!r}>"


def get_block(name: str) -> Any:
    """A new instance of the block registered as ``name`` (imports it on first use)."""
    return get_registry().get_block(name)


def list_blocks() -> list[BlockEntry]:
    """Every claim on every block name, without importing static targets."""
    return get_registry().list_blocks()


def list_plugins() -> list[PluginInfo]:
    """One entry per plugin distribution, with its status."""
    return get_registry().list_plugins()


def list_families() -> list[ModelFamily]:
    return get_registry().list_families()


def get_family(name: str) -> ModelFamily:
    return get_registry().get_family(name)
