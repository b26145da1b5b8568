"""ModularPipeline: blocks plus components plus configs, callable."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .._analysis._render import render_doc
from .._blocks._base import ModularPipelineBlocks
from .._blocks._multi import annotate
from .._model._errors import (
    MissingComponentError,
    MissingInputError,
    UnknownInputError,
    did_you_mean,
)
from .._model._imports import import_target
from .._model._params import ComponentLoadError, ComponentSpec, ConfigSpec
from .._model._state import PipelineState


class Components:
    """Attribute access to a pipeline's components and configs (``components.unet``)."""

    def __init__(self, specs: dict[str, ComponentSpec], configs: dict[str, ConfigSpec]) -> None:
        object.__setattr__(self, "_specs", specs)
        object.__setattr__(self, "_config_specs", configs)
        object.__setattr__(self, "_values", {name: None for name in specs})
        object.__setattr__(self, "_configs", {n: c.default for n, c in configs.items()})

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        configs = object.__getattribute__(self, "_configs")
        if name in configs:
            return configs[name]
        if name.startswith("__"):
            raise AttributeError(name)
        known = [*values, *configs]
        close = did_you_mean(name, known)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise AttributeError(
            f"no component or config named {name!r}.{hint} Known: {', '.join(known) or '(none)'}"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._values:
            self._values[name] = value
        elif name in self._configs:
            self._configs[name] = value
        else:
            raise AttributeError(
                f"no component or config named {name!r}; use pipe.update_components() for "
                f"known names ({', '.join([*self._values, *self._configs]) or 'none'})"
            )

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __contains__(self, name: str) -> bool:
        return name in self._values or name in self._configs

    def items(self) -> list[tuple[str, Any]]:
        return list(self._values.items())

    def __repr__(self) -> str:
        rows = [
            f"  {n}: {type(v).__name__ if v is not None else 'not loaded'}" for n, v in self._values.items()
        ]
        rows += [f"  {n} = {v!r}" for n, v in self._configs.items()]
        return "Components(\n" + "\n".join(rows) + "\n)" if rows else "Components()"


class _Report:
    """Collects, for one simulated run, missing required inputs and the components needed."""

    def __init__(self, present: set[str]) -> None:
        self.present = present
        self.missing: list[tuple[str, str, str]] = []
        self.needs: list[tuple[str, str, str]] = []

    def visit(self, block: ModularPipelineBlocks, path: str) -> None:
        cls = type(block).__name__
        for p in [*block.inputs, *block.intermediate_inputs]:
            if p.required and p.name and p.name not in self.present:
                self.missing.append((path, cls, p.name))
        for c in block.expected_components:
            self.needs.append((path, cls, c.name))


class ModularPipeline:
    """A runnable pipeline: ``pipe(**inputs)`` runs the blocks on a fresh :class:`PipelineState`.

    ``pipe(state=None, output=None, **inputs)``: ``output=None`` returns the state, a name returns
    that value, a list of names returns a dict.
    """

    def __init__(
        self,
        blocks: ModularPipelineBlocks,
        path: str | os.PathLike[str] | None = None,
        components_manager: Any = None,
        family: Any = None,
        component_loaders: Mapping[str, Callable[..., Any]] | None = None,
        **components: Any,
    ) -> None:
        self.blocks = blocks
        self.family = family
        #: type name -> loader, from plugins' ``register_component_loaders`` (given by init_pipeline)
        self.component_loaders: dict[str, Callable[..., Any]] = dict(component_loaders or {})
        self.components_manager = components_manager
        specs = {c.name: c for c in blocks.expected_components}
        configs = {c.name: c for c in blocks.expected_configs}
        if family is not None:
            # the family's specs carry the default loading specs (where weights live)
            specs.update({c.name: c for c in family.components})
            configs.update({c.name: c for c in family.configs if c.name not in configs})
        #: values used for inputs the caller does not pass (from a spec file's [inputs])
        self.default_inputs: dict[str, Any] = dict(blocks.__dict__.get("_spec_inputs", {}))
        self.components = Components(specs, configs)
        self._plans: dict[frozenset[str], _Report] = {}
        self._plan_epoch = -1
        self._accepted: frozenset[str] = frozenset()
        for name, spec in specs.items():
            if spec.default_creation_method == "from_config" and spec.type_hint is not None:
                self.components._values[name] = spec.create()
        if components_manager is not None:
            for name in self.components._values:
                if self.components._values[name] is None and name in components_manager:
                    self.components._values[name] = components_manager.get(name)
        if path is not None:
            self.load_components(path)
        for name, how in blocks.__dict__.get("_spec_components", {}).items():
            self._load_from_spec_file(name, how)
        if components:
            self.update_components(**components)

    def _load_from_spec_file(self, name: str, how: dict[str, Any]) -> None:
        spec = self.components._specs.get(name)
        if spec is None:
            raise ComponentLoadError(
                f"the spec file configures component {name!r}, which no block of this pipeline "
                f"uses ({', '.join(self.components._specs) or 'none'}); remove [components.{name}]"
            )
        opts: dict[str, Any] = {"subfolder": how.get("subfolder"), "variant": how.get("variant")}
        dtype = how.get("dtype")
        if dtype is not None and _is_model_class(spec.type_hint):
            import torch

            opts["torch_dtype"] = getattr(torch, dtype)
        path = how.get("path")
        if (
            opts["subfolder"] is None
            and spec.subfolder is None
            and path
            and os.path.isdir(os.path.join(path, name))
        ):
            opts["subfolder"] = name  # a diffusers-layout folder: one subfolder per component
        opts = {k: v for k, v in opts.items() if v is not None}
        self.components._values[name] = _load_component(spec, path, self.component_loaders, **opts)

    def load_default_components(self, **kwargs: Any) -> None:
        """Load every component that is still empty and whose spec says where it lives."""
        names = [
            n
            for n, spec in self.components._specs.items()
            if self.components._values.get(n) is None and spec.repo is not None
        ]
        for name in names:
            spec = self.components._specs[name]
            self.components._values[name] = _load_component(spec, spec.repo, self.component_loaders, **kwargs)

    # -- components -----------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        return self.components._configs

    @property
    def component_names(self) -> list[str]:
        return list(self.components._values)

    def update_components(self, **kwargs: Any) -> None:
        """Set components (live objects) or configs by name."""
        comps = self.components
        unknown = [k for k in kwargs if k not in comps]
        if unknown:
            known = [*comps._values, *comps._configs]
            hints = []
            for k in unknown:
                close = did_you_mean(k, known)
                hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ComponentLoadError(
                f"update_components got unknown name(s) {', '.join(hints)}; this pipeline's "
                f"components and configs are: {', '.join(known) or '(none)'}"
            )
        for name, value in kwargs.items():
            setattr(comps, name, value)
            if self.components_manager is not None and name in comps._values and value is not None:
                self.components_manager.add(name, value)

    def load_components(
        self,
        path: str | os.PathLike[str] | None = None,
        names: Iterable[str] | None = None,
        *,
        torch_dtype: Any = None,
        device: Any = None,
        **kwargs: Any,
    ) -> None:
        """Load components from a local folder in diffusers layout (one subfolder each).

        Without ``names``, every component listed in ``model_index.json`` (or, without one, every
        ``from_pretrained`` component) is loaded. ``torch_dtype`` and ``device`` apply to models.
        """
        specs = self.components._specs
        wanted = list(names) if names is not None else None
        if wanted is None:
            listed = _model_index_names(path) if path is not None else None
            wanted = [
                n
                for n in specs
                if (
                    n in listed
                    if listed is not None
                    else specs[n].default_creation_method == "from_pretrained"
                )
            ]
        loaded: dict[str, Any] = {}
        for name in wanted:
            if name not in specs:
                raise ComponentLoadError(
                    f"load_components: {name!r} is not a component of this pipeline "
                    f"({', '.join(specs) or 'none'})"
                )
            spec = specs[name]
            opts = dict(kwargs)
            if spec.subfolder is None and path is not None:
                opts.setdefault("subfolder", name)
            if torch_dtype is not None and _is_model_class(spec.type_hint):
                opts["torch_dtype"] = torch_dtype
            obj = _load_component(spec, path, self.component_loaders, **opts)
            if device is not None and _is_model_class(spec.type_hint):
                obj = obj.to(device)
            loaded[name] = obj
        self.update_components(**loaded)

    def to(self, device: Any) -> ModularPipeline:
        """Move every loaded model component to ``device``."""
        for name, value in self.components.items():
            if value is not None and hasattr(value, "to") and hasattr(value, "parameters"):
                self.components._values[name] = value.to(device)
        return self

    # -- running --------------------------------------------------------------------------
    def _accepted_names(self) -> frozenset[str]:
        # the pipeline's own inputs, plus nested `inputs` a caller may still override
        names: set[str] = set(self.blocks.input_names)
        walk = getattr(self.blocks, "walk", None)
        if walk is not None:
            for _, block in walk():
                names.update(p.name for p in block.inputs if p.name)
        return frozenset(names)

    def _plan(self, present: frozenset[str]) -> _Report:
        epoch = _structure_version(self.blocks)
        if epoch != self._plan_epoch:
            self._plans.clear()
            self._accepted = self._accepted_names()
            self._plan_epoch = epoch
        report = self._plans.get(present)
        if report is None:
            report = _Report(set(present))
            self.blocks._simulate(report.present, "", report)
            self._plans[present] = report
        return report

    def __call__(
        self, state: PipelineState | None = None, output: str | list[str] | None = None, **kwargs: Any
    ) -> Any:
        if output is not None and not isinstance(output, (str, list, tuple)):
            raise TypeError(f"output must be None, a name or a list of names, not {type(output).__name__}")
        if state is None:
            state = PipelineState()
        if self._plan_epoch != _structure_version(self.blocks):
            self._plan(frozenset())
        accepted = self._accepted
        if self.default_inputs:
            kwargs = {**self.default_inputs, **kwargs}
        unknown = [k for k in kwargs if k not in accepted]
        if unknown:
            raise UnknownInputError([(k, did_you_mean(k, accepted)) for k in unknown], sorted(accepted))
        blocks = self.blocks
        # caller's values (else defaults): `inputs` go to the inputs namespace, intermediate
        # inputs that nothing upstream produces go straight into the intermediates
        for params, put in (
            (blocks.inputs, state.set_input),
            (blocks.intermediate_inputs, state.set_intermediate),
        ):
            for p in params:
                if p.name is None:
                    continue
                value = kwargs.pop(p.name, None)
                if value is None:
                    value = p.default
                if value is not None:
                    put(p.name, value, p.kwargs_type)
        for name, value in kwargs.items():  # nested inputs produced upstream, given anyway
            if value is not None:
                state.set_input(name, value)
        present = frozenset(k for k, v in state._inputs.items() if v is not None) | frozenset(
            k for k, v in state.intermediates.items() if v is not None
        )
        report = self._plan(present)
        if report.missing:
            raise MissingInputError(report.missing)
        values = self.components._values
        absent = [need for need in report.needs if values.get(need[2]) is None]
        if absent:
            raise MissingComponentError(absent)
        try:
            blocks(self.components, state)
        except Exception as exc:
            err = annotate(exc, None, blocks, state)
            if err is exc:
                raise
            raise err from exc
        if output is None:
            return state
        if isinstance(output, str):
            return state.get(output)
        return {name: state.get(name) for name in output}

    # -- printing -------------------------------------------------------------------------
    @property
    def doc(self) -> str:
        return render_doc(self.blocks)

    def __getattr__(self, name: str) -> Any:
        # pipe.unet as a shortcut for pipe.components.unet
        if name.startswith("_") or name in ("blocks", "components"):
            raise AttributeError(name)
        return getattr(self.components, name)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(\n  blocks: {type(self.blocks).__name__}\n"
            + "\n".join(f"  {line}" for line in repr(self.components).splitlines())
            + "\n)"
        )


def _structure_version(blocks: ModularPipelineBlocks) -> int:
    """Changes whenever sub-blocks anywhere in the tree change (leaf blocks never change)."""
    return getattr(blocks, "structure_version", 0)  # type: ignore[no-any-return]


def _load_component(
    spec: ComponentSpec, path: Any, loaders: Mapping[str, Callable[..., Any]], **opts: Any
) -> Any:
    """One component: through a plugin's loader for its type if there is one, else with
    ``from_pretrained``; model weights only ever from safetensors, never from pickle files."""
    loader = loaders.get(spec.type_name) if spec.type_name else None
    if loader is not None:
        return loader(spec, path, **opts)
    if _is_model_class(spec.type_hint):
        opts.setdefault("use_safetensors", True)
    return spec.load(path, **opts)


def _is_model_class(cls: Any) -> bool:
    if isinstance(cls, str) and ":" in cls:
        try:
            cls = import_target(cls)
        except (ImportError, AttributeError):
            return False
    return isinstance(cls, type) and hasattr(cls, "parameters") and hasattr(cls, "to")


def _model_index_names(path: str | os.PathLike[str]) -> list[str] | None:
    import json

    index = os.path.join(path, "model_index.json")
    if not os.path.isfile(index):
        return None
    with open(index, encoding="utf-8") as fh:
        data = json.load(fh)
    return [k for k, v in data.items() if not k.startswith("_") and isinstance(v, list)]


__all__ = ["Components", "ModularPipeline"]
