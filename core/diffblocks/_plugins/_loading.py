"""Running plugin code: importing hook modules and calling hooks through pluggy into a stage.

Plugin code runs inside :func:`plugin_code`: what it prints goes to stderr (so ``--json`` and
``run --output`` stay parseable), and a slow import gets a one-line notice naming the plugin.
While a plugin loads, registrations it makes at import time through ``diffblocks.registry`` go to
its stage too (:func:`active_stage`), so a plugin that fails leaves nothing behind.

Redirection is per thread (:class:`_RoutedStdout`): while any thread runs plugin code,
``sys.stdout`` is a router that sends that thread's writes to stderr and every other thread's to
the real stdout, and it is put back when the last one finishes. So plugin code needs no lock of
its own, and a thread importing a plugin module never waits on a lock another thread holds while
it waits for that module (the deadlock a lock around imports would make). The registry takes
:data:`PLUGIN_LOCK` for first-use discovery and loading and for its claims.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from .._model._errors import PluginError, suggest
from .._model._imports import import_target
from ._claims import BlockRegistrar, ComponentLoaderRegistrar, FamilyRegistrar, Stage
from ._discovery import PluginInfo

#: Seconds a plugin may take to load before a notice names it on stderr.
SLOW_SECONDS = 3.0

#: Held while plugin code runs and while a registry discovers and loads plugins. Re-entrant:
#: a plugin's import may reach the registry, which may load a lazy block target.
PLUGIN_LOCK = threading.RLock()

# Stages of the plugin loads in progress in this thread (any registry); loads nest when a
# plugin's import reaches the registry. Per thread: another thread's run-time registration is
# no part of the plugin this thread is loading.
_local = threading.local()


def _active() -> list[Stage]:
    stages: list[Stage] | None = getattr(_local, "stages", None)
    if stages is None:
        stages = _local.stages = []
    return stages


class PluginInterrupted(KeyboardInterrupt):
    """Ctrl-C while plugin code ran; the message names the plugin."""


def active_stage() -> Stage | None:
    """The stage of the plugin this thread is loading right now, if any."""
    stages = _active()
    return stages[-1] if stages else None


def describe(exc: BaseException) -> str:
    """``Type: message`` (just ``Type`` when the message is empty, as for ``sys.exit()``)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _RoutedStdout:
    """``sys.stdout`` while plugin code runs: a thread inside plugin code writes to stderr, every
    other thread to the real stdout (``contextlib.redirect_stdout`` would redirect them all)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def _target(self) -> Any:
        return sys.stderr if getattr(_local, "plugin_depth", 0) else self._real

    def write(self, text: str) -> int:
        written: int = self._target().write(text)
        return written

    def writelines(self, lines: Any) -> None:
        self._target().writelines(lines)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


_route_lock = threading.Lock()  # guards only the install/restore of the router below
_route_users = {"count": 0}  # threads inside plugin code; the router stays while any is


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    with _route_lock:
        if _route_users["count"] == 0:
            sys.stdout = _RoutedStdout(sys.stdout)
        _route_users["count"] += 1
    _local.plugin_depth = getattr(_local, "plugin_depth", 0) + 1
    try:
        yield
    finally:
        _local.plugin_depth -= 1
        with _route_lock:
            _route_users["count"] -= 1
            router = sys.stdout
            # the router holds the stdout it replaced (unless someone replaced it meanwhile)
            if _route_users["count"] == 0 and isinstance(router, _RoutedStdout):
                sys.stdout = router._real


@contextlib.contextmanager
def plugin_code(label: str) -> Iterator[None]:
    """Around plugin code: this thread's stdout goes to stderr; after :data:`SLOW_SECONDS` a
    notice on stderr says that ``label`` is still loading; Ctrl-C becomes
    :class:`PluginInterrupted` naming it."""
    timer = threading.Timer(SLOW_SECONDS, _notice, (label,))
    timer.daemon = True
    timer.start()
    try:
        with _stdout_to_stderr():
            yield
    except PluginInterrupted:
        raise
    except KeyboardInterrupt:
        raise PluginInterrupted(f"interrupted while loading {label}") from None
    finally:
        timer.cancel()


def _notice(label: str) -> None:
    print(f"diffblocks: still loading {label} ...", file=sys.stderr, flush=True)


def import_plugin_target(target: str, label: str) -> Any:
    """Import ``"module:attr"`` (or a module) as plugin code (see :func:`plugin_code`)."""
    with plugin_code(label):
        return _import(target)


def run_hooks(info: PluginInfo, stage: Stage, objects: Sequence[Any] | None = None) -> None:
    """Import ``info``'s hook modules (or take ``objects``) and call every hook through pluggy,
    so ``wrapper=True``/``hookwrapper=True`` implementations run as pluggy runs them.

    Each distribution gets a plugin manager of its own: its registrations land in its own stage,
    so a wrapper wraps the hooks of its own distribution only. Whatever the plugin raises
    propagates; the caller drops ``stage`` then. A hook implementation whose name is no
    diffblocks hook raises PluginError before any hook runs: a typo would otherwise drop the
    plugin's registrations without a word.
    """
    import pluggy

    from ._hookspecs import PROJECT, DiffblocksSpecs

    stages = _active()
    stages.append(stage)
    try:
        with plugin_code(f"plugin {info.label()}"):
            pm = pluggy.PluginManager(PROJECT)
            pm.add_hookspecs(DiffblocksSpecs)
            registered = []
            for i, (ep_name, target) in enumerate(info.hooks):
                obj = objects[i] if objects is not None else _import(target)
                if not pm.is_registered(obj):  # two entry points may name one module
                    pm.register(obj, name=f"{info.distribution}:{ep_name}")
                    registered.append(obj)
            check_hook_names(pm, registered)
            pm.hook.register_blocks(registry=BlockRegistrar(stage))
            pm.hook.register_families(registry=FamilyRegistrar(stage))
            pm.hook.register_component_loaders(registry=ComponentLoaderRegistrar(stage))
    finally:
        stages.pop()


def check_hook_names(pm: Any, plugins: Sequence[Any]) -> None:
    """PluginError naming every hook implementation of ``plugins`` whose name is no diffblocks
    hook (with the closest hook names); ``@hookimpl(optionalhook=True)`` ones are let be."""
    from ._hookspecs import HOOK_NAMES

    problems = []
    for plugin in plugins:
        for caller in pm.get_hookcallers(plugin) or []:
            if caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin or impl.optionalhook:
                    continue
                where = f"{getattr(impl.function, '__module__', '?')}.{impl.function.__qualname__}"
                hint = suggest(caller.name, HOOK_NAMES, n=3, aside=True)
                problems.append(f"{where} implements unknown hook {caller.name!r}{hint}")
    if problems:
        raise PluginError(
            "; ".join(problems) + f". Rename it to one of {', '.join(HOOK_NAMES)}, or mark it "
            "@hookimpl(optionalhook=True) if it is meant for another diffblocks version"
        )


def _import(target: str) -> Any:
    return import_target(target) if ":" in target else importlib.import_module(target)
