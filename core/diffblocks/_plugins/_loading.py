"""Running plugin code: importing hook modules and calling hooks through pluggy into a stage.

Plugin code runs inside :func:`plugin_code`: what it prints goes to stderr (so ``--json`` and
``run --output`` stay parseable), and a slow import gets a one-line notice naming the plugin.
While a plugin loads, registrations it makes at import time through ``diffblocks.registry`` go to
its stage too (:func:`active_stage`), so a plugin that fails leaves nothing behind.

Plugin code runs under :data:`PLUGIN_LOCK`, one thread at a time: redirecting stdout is
process-wide, so two threads redirecting at once could leave ``sys.stdout`` pointing at stderr.
The registry takes the same (re-entrant) lock for first-use discovery and loading.
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


@contextlib.contextmanager
def plugin_code(label: str) -> Iterator[None]:
    """Around plugin code: stdout goes to stderr; after :data:`SLOW_SECONDS` a notice on stderr
    says that ``label`` is still loading; Ctrl-C becomes :class:`PluginInterrupted` naming it.
    Holds :data:`PLUGIN_LOCK`, so redirections never interleave across threads."""
    with PLUGIN_LOCK:
        # started once the lock is ours: the notice is about this plugin, not about waiting
        timer = threading.Timer(SLOW_SECONDS, _notice, (label,))
        timer.daemon = True
        timer.start()
        try:
            with contextlib.redirect_stdout(sys.stderr):
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
