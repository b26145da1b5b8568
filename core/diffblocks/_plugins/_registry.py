"""The registry: blocks, families and component loaders by name, filled lazily from plugins.

It puts together discovery (``_discovery``: entry points, read without importing), plugin
loading (``_loading``: imports and pluggy hook calls into a stage) and the claims
(``_claims``: who registered what, conflicts, overrides).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from .._model._errors import BlockImportError, BlockNotFoundError, PluginError, did_you_mean
from ._claims import (
    NAME_RE,
    RUNTIME,
    BlockEntry,
    BlockRegistrar,
    Claims,
    ComponentLoaderRegistrar,
    FamilyRegistrar,
    Stage,
    check_block_object,
    check_name,
)
from ._discovery import (
    PluginInfo,
    PluginStatus,
    disabled_reason,
    discover,
    normalize,
    scan,
    strict_mode,
    unmatched_filter_names,
)
from ._family import ModelFamily
from ._loading import (
    PLUGIN_LOCK,
    PluginInterrupted,
    active_stage,
    describe,
    import_plugin_target,
    run_hooks,
)
from ._safeload import ContestedLoader, PluginComponentLoader

__all__ = [
    "NAME_RE",
    "RUNTIME",
    "BlockEntry",
    "BlockRegistrar",
    "ComponentLoaderRegistrar",
    "FamilyRegistrar",
    "PluginStatus",
    "Registry",
    "RegistryProxy",
    "check_name",
    "get_block",
    "get_family",
    "get_registry",
    "list_blocks",
    "list_families",
    "list_plugins",
    "use_registry",
]

_UNAVAILABLE = {
    PluginStatus.DISABLED: "{disabled}.",
    PluginStatus.INCOMPATIBLE: "{error}; install a version of it made for this diffblocks.",
    PluginStatus.FAILED: "{error}. Run `diffblocks doctor` for details.",
}
_LABELS = {
    PluginStatus.DISABLED: "disabled by DIFFBLOCKS_PLUGINS",
    PluginStatus.INCOMPATIBLE: "incompatible",
    PluginStatus.FAILED: "failed to load",
}


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``method`` holding PLUGIN_LOCK: claims are read and written by one thread at a time."""

    @functools.wraps(method)
    def locked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with PLUGIN_LOCK:
            return method(*args, **kwargs)

    return locked


class PluginBlockNotFoundError(BlockNotFoundError):
    """BlockNotFoundError with notes on the plugin set-up (a DIFFBLOCKS_PLUGINS item that names
    no installed distribution), which may be why the block is missing."""

    def __init__(self, *args: Any, notes: list[str]) -> None:
        super().__init__(*args)
        self.notes = notes

    def __str__(self) -> str:
        return " ".join([super().__str__(), *(f"Note: {n}." for n in self.notes)])


class Registry:
    """Blocks, families and component loaders by name.

    With ``autoload=True`` (the default registry) installed plugins are discovered on first use:
    static ``diffblocks.blocks`` entry points are read without importing anything, and the hook
    modules of the ``diffblocks`` group are imported and called, each in isolation: a plugin that
    raises (any exception but KeyboardInterrupt, ``SystemExit`` included) is recorded as failed
    and leaves no claim behind. In strict mode (``DIFFBLOCKS_STRICT_PLUGINS=1``) every lookup
    raises PluginError while a plugin is failed.

    Thread-safe: first-use discovery and loading, registrations and lookups hold the
    process-wide re-entrant ``PLUGIN_LOCK``, so concurrent first uses load each plugin once and
    all see the result.
    """

    def __init__(self, *, autoload: bool = True) -> None:
        self.autoload = autoload
        self.claims = Claims()
        self._plugins: dict[str, PluginInfo] = {}
        self._unavailable: dict[str, PluginInfo] = {}  # block name -> plugin that is not loaded
        self._scanned = self._hooked = not autoload

    # -- discovery and loading ------------------------------------------------------------
    def _discover(self) -> None:
        """Read the entry points once (the caller holds PLUGIN_LOCK); scanned only on success."""
        if self._scanned:
            return
        from .._model._version import __version__

        for info in discover(__version__):
            self._plugins[info.distribution] = info
            if info.status is PluginStatus.PENDING:
                self._admit_static(info)
            else:
                self._mark_unavailable(info)
        self._scanned = True

    def _load_hooks(self) -> None:
        """Discover, then load every pending hook plugin (once; resumes after an interrupt)."""
        if self._hooked:  # set last, once everything is in place: no lock needed to read it
            return
        with PLUGIN_LOCK:
            self._discover()
            # a plugin's import reaching the registry must not start loading plugins again
            if self._hooked or active_stage() is not None:
                return
            for info in list(self._plugins.values()):
                if info.status is PluginStatus.PENDING and info.hooks:
                    self._run_hooks(info)
            self._hooked = True

    def _use(self) -> None:
        """Before every lookup: load, and in strict mode refuse while any plugin is failed."""
        self._load_hooks()
        if strict_mode() and active_stage() is None:
            failed = [p for p in self._plugins.values() if p.status is PluginStatus.FAILED]
            if failed:
                raise PluginError(
                    "; ".join(f"plugin {p.label()} failed to load: {p.error}" for p in failed)
                    + " (DIFFBLOCKS_STRICT_PLUGINS is set)"
                ) from failed[0].exception

    def _admit_static(self, info: PluginInfo) -> bool:
        """Claim ``info``'s static block entries; a plugin with none but those is loaded."""
        stage = Stage(info.distribution, info.version)
        try:
            stage.blocks = [
                BlockEntry(check_name(name), info.distribution, info.version, target)
                for name, target in info.blocks
            ]
        except ValueError as exc:
            self._fail(info, exc)
            return False
        self.claims.commit(stage)
        if not info.hooks:
            info.status = PluginStatus.LOADED
        return True

    def _run_hooks(self, info: PluginInfo, objects: list[Any] | None = None) -> None:
        stage = Stage(info.distribution, info.version)
        try:
            run_hooks(info, stage, objects)
        except KeyboardInterrupt as exc:  # PluginInterrupted, naming the plugin
            self._fail(info, exc)
            raise
        except BaseException as exc:  # SystemExit too: a plugin must not end the program
            self._fail(info, exc)
            return
        self.claims.commit(stage)
        info.status = PluginStatus.LOADED

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        self.claims.withdraw(info.distribution)  # its static entries, and anything committed
        info.status, info.exception, info.error = PluginStatus.FAILED, exc, describe(exc)
        self._mark_unavailable(info)

    def _mark_unavailable(self, info: PluginInfo) -> None:
        for name, _ in info.blocks:
            self._unavailable.setdefault(name, info)

    # -- run-time registration ------------------------------------------------------------
    def _stage_for(self, distribution: str) -> tuple[Stage, bool]:
        """Where a run-time registration goes: the stage of the plugin being loaded (an
        import-time registration through ``diffblocks.registry`` is that plugin's claim, dropped
        if it fails), else a stage committed at once."""
        stage = active_stage()
        if distribution == RUNTIME and stage is not None:
            return stage, False
        return Stage(distribution, None), True

    @_locked
    def register(self, name: str, block: Any, *, override: bool = False, distribution: str = RUNTIME) -> None:
        """Register a block at run time (class, instance or ``"module:attr"``)."""
        self._load_hooks()
        stage, commit = self._stage_for(distribution)
        BlockRegistrar(stage).register(name, block, override=override)
        if commit:
            self.claims.commit(stage)

    @_locked
    def unregister(self, name: str, distribution: str | None = None) -> None:
        """Remove the claims on ``name`` (only ``distribution``'s, if given)."""
        self._load_hooks()
        self.claims.blocks.withdraw(distribution, name)

    @_locked
    def register_family(
        self, family: ModelFamily, distribution: str = RUNTIME, *, override: bool = False
    ) -> None:
        """Register a model family at run time; a name another distribution claims conflicts."""
        self._load_hooks()
        stage, commit = self._stage_for(distribution)
        FamilyRegistrar(stage).register(family, override=override)
        if commit:
            self.claims.commit(stage)

    @_locked
    def add_plugin(self, plugin: Any, name: str = "test-plugin", version: str | None = None) -> PluginInfo:
        """Load a plugin now: a module or object with hook implementations, registered as
        distribution ``name``; or, given a string, the installed distribution of that name with
        its static ``diffblocks.blocks`` entries and its hooks. Raises PluginError if it fails."""
        self._load_hooks()
        if isinstance(plugin, str):
            info = _installed(plugin)
            objects = None
        else:
            info = PluginInfo(name, name, version, hooks=[(name, repr(plugin))])
            objects = [plugin]
        self._plugins[info.distribution] = info
        if self._admit_static(info) and info.hooks:
            self._run_hooks(info, objects)
        if info.status is PluginStatus.FAILED:
            # the caller gets the error instead of a failed entry
            del self._plugins[info.distribution]
            self._unavailable = {k: v for k, v in self._unavailable.items() if v is not info}
            raise PluginError(f"plugin {info.label()} failed to load: {info.error}") from info.exception
        return info

    @_locked
    def remove_plugin(self, name: str) -> None:
        """Undo :meth:`add_plugin`: its blocks, families and loaders go away."""
        info = self._plugins.pop(name, None) or self._plugins.pop(normalize(name), None)
        self.claims.withdraw(info.distribution if info is not None else name)

    # -- lookups --------------------------------------------------------------------------
    @_locked
    def resolve(self, name: str) -> BlockEntry:
        """The claim that ``name`` means; raises if unknown or contested."""
        self._use()
        entry = self.claims.blocks.winner(name)
        if entry is None:
            raise self._not_found(name)
        return entry

    def _not_found(self, name: str) -> BlockNotFoundError:
        """The error for an unregistered ``name``. It names the plugin that is not loaded and
        provides ``name`` (by a static entry point, else as the one such plugin using its
        namespace, since hook-registered names are unknown until the hook runs), and every
        DIFFBLOCKS_PLUGINS item that matches no installed distribution."""
        known = self.claims.blocks.names()
        provider = reason = None
        info, basis = self._unavailable.get(name), ""
        if info is None and (info := self._namespace_owner(name)) is not None:
            basis = f"the {name.partition('.')[0]!r} namespace belongs to it; "
        if info is not None and info.status in _UNAVAILABLE:
            provider = f"{info.distribution} ({_LABELS[info.status]})"
            reason = basis + _UNAVAILABLE[info.status].format(
                error=info.error,
                disabled=disabled_reason(info) if info.status is PluginStatus.DISABLED else "",
            )
        notes = unmatched_filter_names(list(self._plugins.values())) if self.autoload else []
        return PluginBlockNotFoundError(name, did_you_mean(name, known), known, provider, reason, notes=notes)

    def _namespace_owner(self, name: str) -> PluginInfo | None:
        """The one plugin that is not loaded whose static block names or hook entry-point names
        use ``name``'s namespace (None if no plugin or several do)."""
        namespace = name.partition(".")[0]
        owners = [
            info
            for info in self._plugins.values()
            if info.status in _UNAVAILABLE
            and (
                any(block.partition(".")[0] == namespace for block, _ in info.blocks)
                or any(normalize(ep).replace("-", "_") == namespace for ep, _ in info.hooks)
            )
        ]
        return owners[0] if len(owners) == 1 else None

    def load(self, name: str) -> Any:
        """The registered class or instance behind ``name``, importing it on first use."""
        entry = self.resolve(name)
        if not entry.imported:
            assert entry.target is not None
            try:
                obj = import_plugin_target(entry.target, f"block {name!r} from {entry.distribution}")
                check_block_object(name, obj)
            except PluginInterrupted:
                raise
            except BaseException as exc:  # SystemExit in a block module is that block's failure
                raise BlockImportError(name, entry.target, entry.distribution, exc) from exc
            entry.obj, entry.imported = obj, True
        return entry.obj

    def get_block(self, name: str) -> Any:
        """A new block instance for ``name``."""
        obj = self.load(name)
        block = obj() if isinstance(obj, type) else copy.deepcopy(obj)
        block.origin = dataclasses.replace(block.origin, registered_name=name)
        return block

    @_locked
    def list_blocks(self) -> list[BlockEntry]:
        """Every claim on every block name, sorted by name."""
        self._use()
        return list(self.claims.blocks)

    @_locked
    def block_names(self) -> list[str]:
        self._use()
        return self.claims.blocks.names()

    @_locked
    def list_plugins(self) -> list[PluginInfo]:
        """Every plugin distribution with its status (never raises for failed plugins)."""
        self._load_hooks()
        return list(self._plugins.values())

    @_locked
    def list_families(self) -> list[ModelFamily]:
        """Every claimed family, sorted by name (a contested name appears once per claim)."""
        self._use()
        return [c.value for c in self.claims.families]

    def get_family(self, name: str) -> ModelFamily:
        """The family ``name``; KeyError if none, NameConflictError if contested."""
        family = self.find_family(name)
        if family is None:
            known = ", ".join(self.claims.families.names()) or "(none)"
            raise KeyError(f"no model family named {name!r}; registered families: {known}")
        return family

    @_locked
    def find_family(self, name: str | None) -> ModelFamily | None:
        """The family ``name``, or None; NameConflictError if contested."""
        if not name:
            return None
        self._use()
        claim = self.claims.families.winner(name)
        return claim.value if claim is not None else None

    def component_loader(self, type_name: str) -> Callable[..., Any] | None:
        return self.component_loaders().get(type_name)

    @_locked
    def component_loaders(self) -> dict[str, Callable[..., Any]]:
        """The loader for each component type name plugins registered one for. Each refuses
        models (safetensors-only rule); a contested type's loader raises NameConflictError."""
        self._use()
        table = self.claims.loaders
        loaders: dict[str, Callable[..., Any]] = {}
        unresolved = set(table.unresolved())
        for type_name in table.names():
            if type_name in unresolved:  # refused when used, not when a pipeline is made
                claimants = [f"{c.distribution} {c.version or ''}".strip() for c in table.claims(type_name)]
                loaders[type_name] = ContestedLoader(type_name, claimants)
            elif (claim := table.winner(type_name)) is not None:
                loaders[type_name] = PluginComponentLoader(type_name, claim.value, claim.distribution)
        return loaders


def _installed(distribution: str) -> PluginInfo:
    """The installed plugin distribution ``distribution`` (found by entry points, not imported)."""
    key = normalize(distribution)
    for info in scan():
        if info.distribution == key:
            return info
    raise PluginError(
        f"no installed distribution named {distribution!r} declares diffblocks entry points; "
        f"install it (pip install -e .) to test its entry points"
    )


_current: list[Registry] = []


def get_registry() -> Registry:
    """The registry in use: the default one over installed plugins, unless a test swapped it."""
    if not _current:
        with PLUGIN_LOCK:  # two threads' first calls must make one default registry, not two
            if not _current:
                _current.append(Registry())
    return _current[-1]


@contextmanager
def use_registry(registry: Registry) -> Iterator[Registry]:
    """Make ``registry`` the one ``get_block`` and friends use, inside the ``with`` block."""
    get_registry()
    with PLUGIN_LOCK:
        _current.append(registry)
    try:
        yield registry
    finally:
        with PLUGIN_LOCK:
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
