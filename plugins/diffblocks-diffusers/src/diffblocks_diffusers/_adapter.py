"""diffusers' blocks as diffblocks blocks.

diffusers' sequential and auto blocks become diffblocks ``SequentialPipelineBlocks`` and
``AutoPipelineBlocks`` (so validation, errors and ``get_execution_blocks`` see the whole tree with
its paths); every other diffusers block (a step, a denoising loop, a conditional block with its own
``select_block``) becomes a :class:`DiffusersBlock` leaf that runs the diffusers object unchanged.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import torch
from diffblocks import (
    AutoPipelineBlocks,
    ComponentSpec,
    ConfigSpec,
    InputParam,
    ModularPipelineBlocks,
    OutputParam,
    PipelineBlock,
    SequentialPipelineBlocks,
)
from diffusers.guiders.guider_utils import BaseGuidance
from diffusers.modular_pipelines import modular_pipeline as dmp

from . import _bridge
from ._fast_cfg import replace_loop_steps
from ._names import family_key, family_name
from ._table import TABLE

GUIDER_DOC = (
    "optional: a diffusers guider by name ('cfg', 'pag', 'apg', ...), a table {type = ..., params...}, "
    "parameters only (they update the current guider), or a guider object"
)


def _family_of(block: Any) -> str | None:
    model = getattr(block, "model_name", None)
    if not model:
        return None
    fam = family_name(model)
    return fam if fam in TABLE["families"] else None


def convert_input(p: Any) -> InputParam:
    # diffusers reads prompts as str or list[str] everywhere but declares some as plain `str`,
    # while prompt enhancers declare `list`; widen so diffblocks' type check sees no conflict
    hint = str | list[str] if p.type_hint is str else p.type_hint
    return InputParam(
        name=p.name,
        type_hint=hint,
        default=p.default,
        required=bool(p.required),
        description=p.description or "",
        kwargs_type=p.kwargs_type,
    )


def convert_output(o: Any) -> OutputParam:
    return OutputParam(o.name, o.type_hint, o.description or "", o.kwargs_type)


def convert_component(spec: Any) -> ComponentSpec:
    repo = spec.pretrained_model_name_or_path
    return ComponentSpec(
        name=spec.name,
        type_hint=spec.type_hint,
        description=spec.description or "",
        config=dict(spec.config) if spec.config is not None else None,
        # a hub id is never used: diffblocks only loads from local folders
        repo=repo if isinstance(repo, str) and os.path.isdir(repo) else None,
        subfolder=spec.subfolder or None,
        variant=spec.variant,
        revision=spec.revision,
        default_creation_method=spec.default_creation_method,
    )


class DiffusersBlock(PipelineBlock):
    """A diffusers block (a step, a loop, a conditional block) run unchanged as one leaf.

    Its declarations are diffusers' own, converted; ``__call__`` gives diffusers a state built
    from diffblocks' (see :func:`_bridge.run_block`) and a diffusers pipeline of the block's
    family holding the same component objects. Blocks that use a guider also take a ``guider``
    input that swaps the guider for one run.
    """

    def __init__(self, block: Any) -> None:
        self.diffusers_block = block
        self.family = _family_of(block)
        self.model_name = family_key(self.family) if self.family else None  # type: ignore[misc]
        replace_loop_steps(block)
        inputs = [convert_input(p) for p in block.inputs]
        names = {p.name for p in inputs}
        components = [convert_component(c) for c in block.expected_components]
        # every guider component (guider, guider_2, audio_guider...) can be chosen per call by name
        self._guider_names = [
            c.name
            for c in components
            if isinstance(c.type_hint, type) and issubclass(c.type_hint, BaseGuidance) and c.name not in names
        ]
        inputs += [InputParam(n, None, description=GUIDER_DOC) for n in self._guider_names]
        self._inputs = inputs
        self._outputs = [convert_output(o) for o in block.intermediate_outputs]
        self._components = components
        self._configs = [ConfigSpec(c.name, c.default, c.description or "") for c in block.expected_configs]
        self._kwargs_types = list(
            dict.fromkeys(p.kwargs_type for p in inputs if p.name is None and p.kwargs_type)
        )

    @property
    def description(self) -> str:
        return str(self.diffusers_block.description or "")

    @property
    def inputs(self) -> list[InputParam]:
        return self._inputs

    @property
    def intermediate_outputs(self) -> list[OutputParam]:
        return self._outputs

    @property
    def expected_components(self) -> list[ComponentSpec]:
        return self._components

    @property
    def expected_configs(self) -> list[ConfigSpec]:
        return self._configs

    def _config_names(self) -> list[str]:
        # the family's configs too: diffusers blocks may read configs they do not declare
        family = TABLE["families"].get(self.family or "", {})
        names = [c.name for c in self._configs] + [c["name"] for c in family.get("configs", [])]
        return list(dict.fromkeys(names))

    def __call__(self, components: Any, state: Any) -> tuple[Any, Any]:
        block = self.diffusers_block
        view = _bridge.view_for(components, self.family, block)
        _bridge.sync(view, components, [c.name for c in self._components], self._config_names())
        if isinstance(block, dmp.LoopSequentialPipelineBlocks) and not hasattr(block, "_progress_bar_config"):
            block.set_progress_bar_config(disable=_bridge.progress_disabled(), leave=False)
        with torch.no_grad():
            _bridge.run_block(block, view, state, self._kwargs_types, self._guider_names)
        return components, state


class DiffusersSequential(SequentialPipelineBlocks):
    """diffusers' SequentialPipelineBlocks as a diffblocks one (sub-blocks converted)."""

    def __init__(self, block: Any = None) -> None:
        super().__init__()
        self.diffusers_block = block
        if block is not None:
            self.sub_blocks = _nest(block.sub_blocks.items())  # type: ignore[assignment]

    @property
    def description(self) -> str:
        block = self.diffusers_block
        return str(block.description or "") if block is not None else ""


class DiffusersAuto(AutoPipelineBlocks):
    """diffusers' AutoPipelineBlocks as a diffblocks one: same branches, same triggers."""

    def __init__(self, block: Any = None) -> None:
        super().__init__()
        self.diffusers_block = block
        if block is None:
            return
        branches = list(zip(block.block_trigger_inputs, block.sub_blocks.items()))
        # diffblocks keeps the default branch last; diffusers checks triggers in order and falls
        # back to the default, so moving it to the end selects the same branch
        branches.sort(key=lambda item: item[0] is None)
        self.block_trigger_inputs = [t for t, _ in branches]
        self.sub_blocks = {name: convert(sub) for _, (name, sub) in branches}  # type: ignore[assignment]

    @property
    def description(self) -> str:
        block = self.diffusers_block
        return str(block.description or "") if block is not None else ""


def _nest(items: Any) -> dict[str, ModularPipelineBlocks]:
    """Sub-blocks by name; the dotted names of a pruned workflow (``denoise.input``) become groups."""
    tree: dict[str, Any] = {}
    for name, sub in items:
        node = tree
        *groups, leaf = name.split(".")
        for group in groups:
            node = node.setdefault(group, {})
        node[leaf] = sub
    return _build(tree)


def _build(tree: dict[str, Any]) -> dict[str, ModularPipelineBlocks]:
    out: dict[str, ModularPipelineBlocks] = {}
    for name, node in tree.items():
        if isinstance(node, dict):
            group = DiffusersSequential()
            group.sub_blocks = _build(node)  # type: ignore[assignment]
            out[name] = group
        else:
            out[name] = convert(node)
    return out


_LEAF_CLASSES: dict[type, type[DiffusersBlock]] = {}


def leaf_class(cls: type) -> type[DiffusersBlock]:
    """A DiffusersBlock subclass named after the diffusers class (so errors name it)."""
    made = _LEAF_CLASSES.get(cls)
    if made is None:
        made = _LEAF_CLASSES[cls] = type(cls.__name__, (DiffusersBlock,), {"__module__": __name__})
    return made


def multi_class(block: Any) -> type[ModularPipelineBlocks]:
    """The diffblocks class a diffusers block converts to."""
    if isinstance(block, dmp.AutoPipelineBlocks):
        return DiffusersAuto
    if isinstance(block, dmp.SequentialPipelineBlocks):
        return DiffusersSequential
    return leaf_class(type(block))


def leaves(block: ModularPipelineBlocks) -> list[DiffusersBlock]:
    """The DiffusersBlock leaves under ``block``, in run order (every branch of auto blocks)."""
    if isinstance(block, DiffusersBlock):
        return [block]
    subs = getattr(block, "sub_blocks", None) or {}
    return [leaf for sub in subs.values() for leaf in leaves(sub)]


def declare_rewrites(root: ModularPipelineBlocks) -> None:
    """Declare the inputs diffusers' blocks rewrite in place as their outputs.

    diffusers writes back any input a block rebinds (Wan's set_timesteps rewrites ``timesteps``
    without declaring it as an output), so a later block may *require* a value only an earlier
    block's input declares. For each required input that no earlier block outputs, the latest
    earlier block reading it is taken to produce it, which is how diffusers runs it.
    """
    produced: set[str] = set()
    readers: dict[str, DiffusersBlock] = {}
    for leaf in leaves(root):
        for p in leaf.inputs:
            if p.required and p.name and p.name not in produced and p.name in readers:
                reader = readers[p.name]
                reader._outputs.append(
                    OutputParam(p.name, p.type_hint, f"{p.name}, as rewritten by this block")
                )
                produced.add(p.name)
        # diffusers' own workflows write some names twice on purpose (each step's latest value
        # wins): inside one converted workflow that is declared, so validation accepts it
        leaf._outputs = [
            dataclasses.replace(o, replaces=True) if o.name in produced else o for o in leaf._outputs
        ]
        produced.update(o.name for o in leaf.intermediate_outputs)
        readers.update({p.name: leaf for p in leaf.inputs if p.name})
    if isinstance(root, (DiffusersSequential, DiffusersAuto)):
        root.sub_blocks = dict(root.sub_blocks)  # type: ignore[assignment]  # re-aggregate


def convert(block: Any) -> ModularPipelineBlocks:
    """Any diffusers block (class or instance) as a diffblocks block."""
    if isinstance(block, type):
        block = block()
    if not isinstance(block, dmp.ModularPipelineBlocks):
        raise TypeError(f"{block!r} is not a diffusers ModularPipelineBlocks")
    converted = multi_class(block)(block)  # type: ignore[call-arg]
    declare_rewrites(converted)
    if not isinstance(converted, DiffusersBlock):
        fam = _family_of(block)
        if fam:
            converted.model_name = family_key(fam)  # type: ignore[misc]
    return converted
