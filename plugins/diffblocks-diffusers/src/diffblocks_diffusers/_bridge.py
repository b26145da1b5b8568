"""The diffusers side of a run: what diffusers' blocks see as ``components`` and as the state.

diffusers' blocks are called as ``block(pipeline, state)`` and read family properties from the
pipeline (``vae_scale_factor``, ``default_height``, ``_execution_device``, ``config.x``...). Rather
than imitate those, each diffblocks :class:`~diffblocks.Components` gets one real diffusers pipeline
of the family's class per family (built from configs, nothing loaded), whose components and configs
are kept identical to diffblocks' before every diffusers block runs.
"""

from __future__ import annotations

import os
import sys
import weakref
from typing import Any

import diffusers
from diffusers.modular_pipelines.modular_pipeline import ModularPipeline as DiffusersPipeline
from diffusers.modular_pipelines.modular_pipeline import PipelineState as DiffusersState

from ._guiders import resolve_guider
from ._table import TABLE

_MISSING = object()
# diffblocks Components -> {family (or None): diffusers pipeline}
_VIEWS: weakref.WeakKeyDictionary[Any, dict[Any, DiffusersPipeline]] = weakref.WeakKeyDictionary()


def _new_view(family: str | None, fallback_blocks: Any) -> DiffusersPipeline:
    info = TABLE["families"].get(family) if family else None
    if info is None:
        return DiffusersPipeline(blocks=fallback_blocks)
    cls = getattr(diffusers, info["pipeline_class"])
    return cls(blocks=getattr(diffusers, info["blocks_class"])())  # type: ignore[no-any-return]


def view_for(components: Any, family: str | None, block: Any) -> DiffusersPipeline:
    """The diffusers pipeline that stands for ``components`` when a ``family`` block runs."""
    if isinstance(components, DiffusersPipeline):
        return components
    try:
        views = _VIEWS.setdefault(components, {})
    except TypeError:  # not weak-referenceable: no caching
        views = {}
    view = views.get(family)
    if view is None:
        view = views[family] = _new_view(family, block)
    return view


def sync(view: DiffusersPipeline, components: Any, names: list[str], configs: list[str]) -> None:
    """Make the view's components and configs those of ``components`` (identity, not copies).

    Every component of the diffblocks pipeline is passed, not only the block's declared ones:
    some diffusers blocks read components they do not declare (Flux's set_timesteps reads
    ``transformer.config``).
    """
    if view is components:
        return
    held = view.__dict__
    try:
        names = list(dict.fromkeys([*names, *iter(components)]))
    except TypeError:  # not iterable: only the declared names
        pass
    for name in names:
        value = getattr(components, name, None)
        if held.get(name, _MISSING) is not value:
            setattr(view, name, value)
    changed = {}
    for name in configs:
        value = getattr(components, name, _MISSING)
        if value is _MISSING:  # the diffblocks pipeline does not hold it: keep diffusers' default
            continue
        if view.config.get(name, _MISSING) != value:
            changed[name] = value
    if changed:
        view.register_to_config(**changed)


def progress_disabled() -> bool:
    """diffblocks' policy for progress bars (``DIFFBLOCKS_PROGRESS=0``, or stderr not a terminal)."""
    return os.environ.get("DIFFBLOCKS_PROGRESS", "1") == "0" or not sys.stderr.isatty()


def run_block(
    block: Any,
    view: DiffusersPipeline,
    state: Any,
    kwargs_types: list[str],
    guider_names: list[str],
) -> None:
    """Run one diffusers block on diffblocks' ``state``; write back what it set or changed.

    diffusers keeps one namespace of values; it is built from diffblocks' inputs overlaid with its
    intermediates (the lookup order of ``PipelineState.get``), with the kwargs_type tags of both.
    Whatever the block adds or rebinds goes to the intermediates, keeping its tag.
    """
    values = {**state.inputs, **state.intermediates}
    dstate = DiffusersState()
    dstate.values = values
    for kind in kwargs_types:
        tagged = [*state.get_inputs_kwargs(kind), *state.get_intermediates_kwargs(kind)]
        dstate.kwargs_mapping[kind] = list(dict.fromkeys(tagged))
    before = dict(values)
    swapped = []
    for name in guider_names:
        spec = values.get(name)
        if spec is not None:
            swapped.append((name, getattr(view, name, None)))
            setattr(view, name, cached_guider(view, name, spec))
    try:
        block(view, dstate)
    finally:
        for name, old in swapped:
            setattr(view, name, old)
    tags = {key: kind for kind, keys in dstate.kwargs_mapping.items() for key in keys}
    for key, value in dstate.values.items():
        if before.get(key, _MISSING) is not value:
            state.set_intermediate(key, value, tags.get(key))


def cached_guider(view: DiffusersPipeline, name: str, spec: Any) -> Any:
    """The guider for a ``guider`` input value, built once per view and spec."""
    current = getattr(view, name, None)
    try:
        key: Any = (name, id(current), repr(sorted(spec.items())) if isinstance(spec, dict) else spec)
        hash(key)
    except TypeError:
        return resolve_guider(spec, current)
    cache = view.__dict__.setdefault("_diffblocks_guiders", {})
    if key not in cache:
        cache[key] = resolve_guider(spec, current)
    return cache[key]
