"""ModularPipeline: blocks plus components plus configs, callable."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from .._analysis._render import render_doc
from .._blocks._base import ModularPipelineBlocks
from .._blocks._failures import annotate, keep_interrupted
from .._blocks._plan import caller_inputs, plan
from .._model._checks import check_nesting, invalid_values, raise_call_problems, step_params
from .._model._errors import (
    UnknownInputError,
    UnknownOutputError,
    did_you_mean,
    suggest,
)
from .._model._params import ComponentLoadError, ComponentSpec, ConfigSpec
from .._model._state import PipelineState
from .._model._weights import dtype_from_name
from ._components import Components, describe_component
from ._loading import (
    index_component_names,
    is_model_class,
    load_component,
    read_index,
    save_folder,
    specs_from_index,
)
from ._percall import for_one_call
from ._progress import progress_settings


class _Report(NamedTuple):
    """For one set of present names: missing required inputs and the components needed, as
    (block path, block class, name), and the params whose values are checked, from the plan of
    what will run."""

    missing: list[tuple[str, str, str]]
    needs: list[tuple[str, str, str]]
    params: list[tuple[str, str, Any]]


class ModularPipeline:
    """A runnable pipeline: ``pipe(**inputs)`` runs the blocks on a fresh :class:`PipelineState`.

    ``pipe(state=None, output=None, **inputs)``: ``output=None`` returns the state, a name returns
    that value, a list of names returns a dict.

    ``ModularPipeline(blocks, path=None, components_manager=None, collection=None, **components)``:
    ``path`` (a local folder in diffusers layout) loads every component it lists at once; a
    ``components_manager`` receives what this pipeline loads or is given (in ``collection``) and
    fills its empty components from ones of the same name it already holds.
    """

    def __init__(
        self,
        blocks: ModularPipelineBlocks,
        path: str | os.PathLike[str] | None = None,
        components_manager: Any = None,
        family: Any = None,
        component_loaders: Mapping[str, Callable[..., Any]] | None = None,
        collection: str | None = None,
        pretrained_model_name_or_path: str | os.PathLike[str] | None = None,
        **components: Any,
    ) -> None:
        check_nesting(blocks)
        self._blocks = blocks
        self.family = family
        #: type name -> loader, from plugins' ``register_component_loaders`` (given by init_pipeline)
        self.component_loaders: dict[str, Callable[..., Any]] = dict(component_loaders or {})
        self.components_manager = components_manager
        self.collection = collection
        specs = {c.name: c for c in blocks.expected_components}
        configs = {c.name: c for c in blocks.expected_configs}
        if family is not None:
            # the family's specs carry the default loading specs (where weights live)
            specs.update({c.name: c for c in family.components})
            configs.update({c.name: c for c in family.configs if c.name not in configs})
        # each pipeline owns its specs: loading records where a component came from in its spec
        specs = {name: _copy_spec(spec) for name, spec in specs.items()}
        #: values used for inputs the caller does not pass (from a spec file's [inputs])
        self.default_inputs: dict[str, Any] = dict(blocks.origin.spec_inputs)
        self.components = Components(specs, configs, owner=self)
        self._progress: dict[str, Any] = {}
        self._plans: dict[frozenset[str], _Report] = {}
        self._plan_epoch = -1
        self._accepted: frozenset[str] = frozenset()
        #: every name output= may ask for without the run having to set it (see _known_names)
        self._known: frozenset[str] = frozenset()
        for name, spec in specs.items():
            if spec.default_creation_method == "from_config" and spec.type_hint is not None:
                self.components.set(name, spec.create())
        if components_manager is not None:
            for name in self.components.names:
                if self.components.get(name) is None:
                    ids = components_manager.get_ids(name, collection)
                    if len(ids) == 1:
                        self.components.set(name, components_manager.get(ids[0]))
        #: components loaded at once from `path`; load_components(**options) reloads them
        self._loaded_from_path: set[str] = set()
        if path is not None:
            self.load_components(path)
            self._loaded_from_path = {n for n in self.components.names if self.components.get(n) is not None}
        if pretrained_model_name_or_path is not None:
            self._read_index(pretrained_model_name_or_path)  # diffusers' form: specs only
        for name, how in blocks.origin.spec_components.items():
            self._load_from_spec_file(name, how)
        if components:
            self.update_components(**components)

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike[str],
        blocks: ModularPipelineBlocks | None = None,
        trust_remote_code: bool | None = None,
        components_manager: Any = None,
        collection: str | None = None,
        **kwargs: Any,
    ) -> ModularPipeline:
        """A pipeline whose component specs and configs come from a local folder's
        ``modular_model_index.json`` (or ``model_index.json``); nothing is loaded until
        :meth:`load_components`, as in diffusers. ``blocks`` are required: diffblocks never imports
        code from a model folder (``trust_remote_code=True`` is refused); blocks come from plugins.
        Called on ``ModularPipeline`` itself, the blocks' model family picks the pipeline class.
        """
        if trust_remote_code:
            raise ComponentLoadError(
                "trust_remote_code=True is not supported: diffblocks never runs code shipped in a "
                "model folder. Install the blocks as a plugin (pip install <plugin>), then pass them: "
                "ModularPipeline.from_pretrained(folder, blocks=get_block('<name>'))"
            )
        where = os.fspath(pretrained_model_name_or_path)
        if not os.path.isdir(where):
            raise ComponentLoadError(
                f"{where!r} is not a local folder; diffblocks never downloads (no hub ids): "
                f"download it first, then pass the folder"
            )
        if blocks is None:
            modular, _ = read_index(where)
            name = (modular or {}).get("_diffblocks_blocks") or "<name>"
            raise ComponentLoadError(
                f"from_pretrained({where!r}) needs blocks=...: diffblocks does not build blocks from "
                f"a folder's class names; pass them, e.g. from_pretrained(folder, "
                f"blocks=get_block({name!r}))"
            )
        options = dict(
            components_manager=components_manager,
            collection=collection,
            pretrained_model_name_or_path=where,
            **kwargs,
        )
        if cls is ModularPipeline:
            # through init_pipeline: the blocks' family picks its pipeline class, plugins' loaders come
            return blocks.init_pipeline(**options)
        return cls(blocks, **options)

    def _read_index(self, folder: str | os.PathLike[str]) -> None:
        """Take component specs and config values from a folder's index (nothing is loaded)."""
        found, configs = specs_from_index(folder, self.components.specs)
        for name, spec in found.items():
            self.components.set_spec(name, spec)
        for name, value in configs.items():
            if name in self.components.config_names:
                self.components.set_config_default(name, value)

    def save_pretrained(
        self,
        save_directory: str | os.PathLike[str],
        variant: str | None = None,
        max_shard_size: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        """Write every loaded pretrained component (safetensors) into its own subfolder and
        ``modular_model_index.json`` with config values, as diffusers 0.42 does: the folder loads
        with ``from_pretrained`` here and in diffusers. Hub uploads are not supported."""
        if kwargs.get("push_to_hub"):
            raise ComponentLoadError(
                "save_pretrained(push_to_hub=True): diffblocks only writes local folders"
            )
        comps = self.components
        save_folder(
            save_directory,
            comps.loaded(),
            comps.specs,
            dict(comps.config),
            type(self._blocks).__name__,
            blocks_name=self._blocks.origin.registered_name,
            variant=variant,
            max_shard_size=max_shard_size,
        )
        # like diffusers: what was written is now where these components live
        for name, spec in comps.specs.items():
            if spec.default_creation_method == "from_pretrained" and comps.get(name) is not None:
                spec.pretrained_model_name_or_path = os.fspath(save_directory)
                spec.subfolder, spec.revision = name, None
                spec.variant = variant

    def _load_from_spec_file(self, name: str, how: Mapping[str, Any]) -> None:
        specs = self.components.specs
        spec = specs.get(name)
        if spec is None:
            raise ComponentLoadError(
                f"the spec file configures component {name!r}, which no block of this pipeline "
                f"uses ({', '.join(specs) or 'none'}); remove [components.{name}]"
            )
        opts: dict[str, Any] = {"subfolder": how.get("subfolder"), "variant": how.get("variant")}
        dtype = how.get("dtype")
        if dtype is not None and is_model_class(spec.type_hint):
            try:
                opts["torch_dtype"] = dtype_from_name(dtype)  # dtype names only, never a torch attribute
            except ValueError as exc:
                raise ComponentLoadError(f"[components.{name}]: {exc}") from None
        path = how.get("path")
        if (
            opts["subfolder"] is None
            and spec.subfolder is None
            and path
            and os.path.isdir(os.path.join(path, name))
        ):
            opts["subfolder"] = name  # a diffusers-layout folder: one subfolder per component
        opts = {k: v for k, v in opts.items() if v is not None}
        self._register(name, load_component(spec, path, self.component_loaders, **opts))

    def load_default_components(self, **kwargs: Any) -> None:
        """Load every component that is still empty and whose spec says where it lives."""
        for name, spec in self.components.specs.items():
            if self.components.get(name) is None and spec.pretrained_model_name_or_path is not None:
                obj = load_component(
                    spec, spec.pretrained_model_name_or_path, self.component_loaders, **kwargs
                )
                self._register(name, obj)

    # -- components -----------------------------------------------------------------------
    @property
    def blocks(self) -> ModularPipelineBlocks:
        """The pipeline's blocks (the object itself, not a copy)."""
        return self._blocks

    @property
    def config(self) -> Any:
        """Config values (``pipe.config["name"]`` or ``pipe.config.name``)."""
        return self.components.config

    @property
    def component_names(self) -> list[str]:
        return self.components.names

    @property
    def null_component_names(self) -> list[str]:
        """Components not loaded yet."""
        return [n for n in self.components.names if self.components.get(n) is None]

    @property
    def pretrained_component_names(self) -> list[str]:
        return [n for n, s in self.components.specs.items() if s.default_creation_method == "from_pretrained"]

    @property
    def config_component_names(self) -> list[str]:
        return [n for n, s in self.components.specs.items() if s.default_creation_method == "from_config"]

    def get_component_spec(self, name: str) -> ComponentSpec:
        """A copy of component ``name``'s current spec."""
        return _copy_spec(self.components.spec(name))

    def update_components(self, **kwargs: Any) -> None:
        """Set components (live objects) or configs by name; each component's spec follows the
        new object (its type, and where it was loaded from when a spec loaded it)."""
        comps = self.components
        unknown = [k for k in kwargs if k not in comps]
        if unknown:
            known = [*comps.names, *comps.config_names]
            hints = []
            for k in unknown:
                hints.append(f"{k!r}" + suggest(k, known, aside=True))
            raise ComponentLoadError(
                f"update_components got unknown name(s) {', '.join(hints)}; this pipeline's "
                f"components and configs are: {', '.join(known) or '(none)'}"
            )
        for name, value in kwargs.items():
            if name in comps.config_names:
                comps.set_config_default(name, value)
                continue
            if value is not None:
                comps.set_spec(name, _spec_for(comps.spec(name), value))
            self._register(name, value)

    def _register(self, name: str, value: Any) -> None:
        self.components.set(name, value)
        manager = self.components_manager
        if manager is not None and value is not None and manager.id_of(value) is None:
            manager.add(name, value, self.collection)

    def load_components(
        self,
        target: Iterable[str] | str | os.PathLike[str] | None = None,
        /,
        names: Iterable[str] | str | None = None,
        path: str | os.PathLike[str] | None = None,
        *,
        torch_dtype: Any = None,
        device: Any = None,
        **kwargs: Any,
    ) -> None:
        """Load components from local folders in diffusers layout (one subfolder each).

        ``load_components(folder)`` loads what the folder's index lists (every pretrained
        component without an index); ``load_components(["unet"])`` / ``load_components()`` load
        the named / all empty pretrained components from where their specs say. Any keyword
        (``torch_dtype``, ``variant``, ...) may be one value or a dict per component
        (``torch_dtype={"unet": torch.float16, "default": torch.float32}``); ``device`` moves models.
        """
        specs = self.components.specs
        if isinstance(target, str) and not os.path.isdir(target) and did_you_mean(target, specs):
            # not a folder but (close to) a component name: the names check below suggests it
            names = target
        elif isinstance(target, (str, os.PathLike)) and not (isinstance(target, str) and target in specs):
            path = target  # load_components(folder), the first-release form
        elif target is not None:
            names = target  # load_components(["unet"]) or load_components("unet"), diffusers' form
        if isinstance(names, str):
            names = [names]
        wanted = list(names) if names is not None else None
        if wanted is None and path is not None:
            listed = index_component_names(path)
            wanted = [
                n
                for n in specs
                if (
                    n in listed
                    if listed is not None
                    else specs[n].default_creation_method == "from_pretrained"
                )
            ]
        elif wanted is None:
            # diffusers' form: the empty ones; with options, also those init_pipeline(folder)
            # loaded at once, so `load_components(torch_dtype=...)` gets what it asks for
            again = (
                self._loaded_from_path if (kwargs or torch_dtype is not None or device is not None) else set()
            )
            wanted = [
                n
                for n, s in specs.items()
                if s.default_creation_method == "from_pretrained"
                and s.pretrained_model_name_or_path is not None
                and (self.components.get(n) is None or n in again)
            ]
        for name in wanted:
            if name not in specs:
                raise ComponentLoadError(
                    f"load_components: {name!r} is not a component of this pipeline"
                    + suggest(name, specs, aside=True)
                    + f"; its components are: {', '.join(specs) or 'none'}"
                )
        options = {**kwargs, "torch_dtype": torch_dtype}
        for name in wanted:
            spec = specs[name]
            opts = {k: v for k, v in _per_component(options, name).items() if v is not None}
            if not is_model_class(spec.type_hint):
                opts.pop("torch_dtype", None)
            if path is not None and spec.subfolder is None:
                opts.setdefault("subfolder", name)
            obj = load_component(spec, path, self.component_loaders, **opts)
            move_to = _per_component({"device": device}, name).get("device")
            if move_to is not None and is_model_class(spec.type_hint):
                obj = obj.to(move_to)
            self.update_components(**{name: obj})

    def unload_components(self, names: Iterable[str] | str) -> None:
        """Empty the named components (their specs stay, so they can be loaded again) and drop
        them from the components manager."""
        names = [names] if isinstance(names, str) else list(names)
        for name in names:
            self.components.spec(name)  # an unknown name is an error with a suggestion
        for name in names:
            value = self.components.get(name)
            if value is None:
                continue
            self.components.set(name, None)
            manager = self.components_manager
            component_id = manager.id_of(value) if manager is not None else None
            del value
            if component_id is not None:
                manager.remove(component_id)
        gc.collect()

    def to(self, device: Any) -> ModularPipeline:
        """Move every loaded model component to ``device``."""
        for name, value in self.components.items():
            if value is not None and hasattr(value, "to") and hasattr(value, "parameters"):
                self.components.set(name, value.to(device))
        return self

    # -- running --------------------------------------------------------------------------
    @property
    def default_call_parameters(self) -> dict[str, Any]:
        """Every input name this pipeline takes, with its default."""
        return {
            p.name: p.default
            for p in [*self._blocks.inputs, *self._blocks.intermediate_inputs]
            if p.name is not None
        }

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        """Settings for the progress bars of this pipeline's runs (``disable``, ``leave``,
        ``desc``, and any other tqdm keyword)."""
        self._progress.update(kwargs)
        for _, sub in getattr(self._blocks, "sub_blocks", {}).items():
            if hasattr(sub, "set_progress_bar_config"):
                sub.set_progress_bar_config(**kwargs)

    def accepted_inputs(self) -> frozenset[str]:
        """Every input name a call accepts: the pipeline's inputs, plus nested blocks' own
        ``inputs`` a caller may still override."""
        return caller_inputs(self._blocks)

    def _plan(self, present: frozenset[str], values: Mapping[str, Any] | None = None) -> _Report:
        epoch = _structure_version(self.blocks)
        if epoch != self._plan_epoch:
            self._plans.clear()
            self._accepted = self.accepted_inputs()
            self._known = _known_names(self.blocks, self._accepted)
            self._plan_epoch = epoch
        report = self._plans.get(present)
        if report is None:
            # conditional blocks that choose by value, not presence, need the values (no caching)
            known = dict.fromkeys(present, True) if values is None else values
            runs = plan(self.blocks, known, partial_ok=True)
            report = _Report(runs.missing_inputs(present), runs.needed_components(), step_params(runs.steps))
            if runs.by_presence:
                self._plans[present] = report
        return report

    def __call__(
        self, state: PipelineState | None = None, output: str | list[str] | None = None, **kwargs: Any
    ) -> Any:
        if output is not None and (
            not isinstance(output, (str, list, tuple))
            or (not isinstance(output, str) and not all(isinstance(n, str) for n in output))
        ):
            # checked before the run: after it, a bad name would cost the whole computation
            raise TypeError(f"output must be None, a name or a list of names (strings), not {output!r}")
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
        state.apply_caller_values(blocks.inputs, blocks.intermediate_inputs, kwargs)
        values = state.values
        present = frozenset(k for k, v in values.items() if v is not None)
        report = self._plan(present, values)
        comps = self.components
        absent = [need for need in report.needs if comps.get(need[2]) is None]
        given = {k: v for k, v in values.items() if v is not None}
        raise_call_problems(report.missing, absent, invalid_values(report.params, given))
        try:
            with progress_settings(self._progress):
                # stateful components (schedulers) are copied per call: concurrent calls are safe
                blocks(for_one_call(comps), state)
        except KeyboardInterrupt as exc:
            keep_interrupted(exc, state)
            raise
        except Exception as exc:
            err = annotate(exc, None, blocks, state)
            if err is exc:
                raise
            raise err from exc
        if output is None:
            return state
        # Checked after the run, not before: a block may write a name it does not declare
        # (diffusers returns such a value), so only the finished state says a name is wrong.
        # A declared name the run did not produce (a branch not taken) is a valid None.
        known = self._known
        names = (output,) if isinstance(output, str) else output
        wrong = [n for n in names if n not in known and n not in state]
        if wrong:
            choices = [*known, *(k for k in state.values if k not in known)]
            err = UnknownOutputError([(n, did_you_mean(n, choices)) for n in wrong], choices)
            err.state = state
            raise err
        if isinstance(output, str):
            return state.get(output)
        return {name: state.get(name) for name in output}

    # -- printing -------------------------------------------------------------------------
    @property
    def doc(self) -> str:
        return render_doc(self._blocks)

    def __getattr__(self, name: str) -> Any:
        # pipe.unet as a shortcut for pipe.components.get("unet"): reading a component here (user
        # code, a pipeline class's property like vae_scale_factor) does not move it under auto
        # offload; blocks take models through `components`, which does
        if name.startswith("_") or name in ("blocks", "components"):
            raise AttributeError(name)
        components = self.components
        if name in components.names:
            return components.get(name)
        return getattr(components, name)

    def __repr__(self) -> str:
        """The block tree, then each component (class; for models dtype, device and size)."""
        blocks = self._blocks
        lines = [f"{type(self).__name__}(", f"  blocks: {type(blocks).__name__}"]
        walk = getattr(blocks, "walk", None)
        for path, block in walk() if walk is not None else []:
            depth = path.count(".")
            lines.append(f"  {'  ' * (depth + 1)}{path.rpartition('.')[2]}: {type(block).__name__}")
        comps = self.components
        if comps.names:
            lines.append("  components:")
            lines += [f"    {n}: {describe_component(comps.get(n))}" for n in comps.names]
        if comps.config_names:
            lines.append("  configs:")
            lines += [f"    {n} = {comps.get(n)!r}" for n in comps.config_names]
        manager = self.components_manager
        if manager is not None:
            where = f", auto CPU offload to {manager.execution_device}" if manager.execution_device else ""
            collection = f" (collection {self.collection!r})" if self.collection else ""
            lines.append(f"  components manager: {len(manager)} components{collection}{where}")
        return "\n".join(lines) + "\n)"


def _known_names(blocks: ModularPipelineBlocks, accepted: frozenset[str]) -> frozenset[str]:
    """What ``output=`` may name: what a caller may pass, and every name any block of the tree
    (every branch, loop insides included) reads or declares it produces."""
    names = set(accepted)
    for _, block in plan(blocks).nodes:
        names.update(block.input_names)
        names.update(block.output_names)
    return frozenset(names)


def _structure_version(blocks: ModularPipelineBlocks) -> int:
    """Changes whenever sub-blocks anywhere in the tree change (leaf blocks never change)."""
    return getattr(blocks, "structure_version", 0)  # type: ignore[no-any-return]


def _copy_spec(spec: ComponentSpec) -> ComponentSpec:
    import copy

    new = copy.copy(spec)
    if spec.config is not None:
        new.config = dict(spec.config)
    return new


def _spec_for(current: ComponentSpec, value: Any) -> ComponentSpec:
    """The spec that follows a component set by hand (as diffusers' update_components does)."""
    load_id = getattr(value, "_diffusers_load_id", None)
    if current.default_creation_method == "from_pretrained" and load_id in (None, "null"):
        # an object from elsewhere: where it came from is unknown, its type is not
        new = ComponentSpec(current.name, type(value), current.description)
    else:
        new = ComponentSpec.from_component(current.name, value)
        new.description = current.description
    return new


def _per_component(options: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One component's options: a dict value is per component (``"default"`` for the rest)."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, dict):
            if name in value:
                out[key] = value[name]
            elif "default" in value:
                out[key] = value["default"]
        else:
            out[key] = value
    return out


__all__ = ["Components", "ConfigSpec", "ModularPipeline", "UnknownOutputError"]
