"""compose(): pipelines from registered block names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._blocks._base import BlockOrigin, ModularPipelineBlocks
from .._blocks._conditional import AutoPipelineBlocks
from .._blocks._multi import SequentialPipelineBlocks
from .._model._errors import BlockNotFoundError, CompositionError, DiffblocksError, NameConflictError, Problem
from .._plugins._registry import Registry, get_registry

ComposeSpec = Any  # str | list | dict | ModularPipelineBlocks, nested


def _key_for(item: Any, index: int) -> str:
    if isinstance(item, str):
        return item.split(".", 1)[-1].replace(".", "_")
    name = item.origin.registered_name if isinstance(item, ModularPipelineBlocks) else None
    if name:
        return name.split(".", 1)[-1].replace(".", "_")
    if isinstance(item, ModularPipelineBlocks):
        return _snake(type(item).__name__)
    return f"group{index}"


def _snake(name: str) -> str:
    out = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return out or "block"


def _unique(key: str, taken: set[str]) -> str:
    if key not in taken:
        return key
    n = 2
    while f"{key}_{n}" in taken:
        n += 1
    return f"{key}_{n}"


class _Builder:
    """Resolves names through one registry and collects every problem before raising."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.problems: list[Problem] = []

    def block(self, item: Any, path: str) -> ModularPipelineBlocks | None:
        if isinstance(item, ModularPipelineBlocks):
            return item
        if isinstance(item, str):
            try:
                block: ModularPipelineBlocks = self.registry.get_block(item)
                return block
            except BlockNotFoundError as exc:
                # the registry's own message: close names, the providing plugin and why it is not
                # loaded (failed, disabled by DIFFBLOCKS_PLUGINS, misspelled filter items)
                self.problems.append(Problem("unknown-name", path, item, str(exc)))
            except NameConflictError as exc:
                self.problems.append(Problem("name-conflict", path, item, str(exc)))
            except DiffblocksError as exc:
                self.problems.append(Problem("load-failed", path, item, str(exc)))
            return None
        if isinstance(item, (list, tuple, Mapping)):
            return self.sequence(item, path)
        self.problems.append(
            Problem("bad-item", path, None, f"{item!r} is not a block name, block, list or dict")
        )
        return None

    def sequence(self, spec: Any, path: str) -> SequentialPipelineBlocks | None:
        pairs: list[tuple[str, Any]]
        if isinstance(spec, Mapping):
            pairs = [(str(k), v) for k, v in spec.items()]
        else:
            taken: set[str] = set()
            pairs = []
            for i, item in enumerate(spec):
                key = _unique(_key_for(item, i), taken)
                taken.add(key)
                pairs.append((key, item))
        built: dict[str, ModularPipelineBlocks] = {}
        for key, item in pairs:
            if key in built:
                self.problems.append(
                    Problem(
                        "duplicate-key",
                        f"{path}.{key}" if path else key,
                        None,
                        f"sub-block key {key!r} is used twice; rename one",
                    )
                )
                continue
            block = self.block(item, f"{path}.{key}" if path else key)
            if block is not None:
                built[key] = block
        if self.problems:
            return None
        seq = SequentialPipelineBlocks.from_blocks_dict(built)
        seq.origin = BlockOrigin(composed=True)
        return seq


def auto_blocks(
    blocks: Mapping[str, ModularPipelineBlocks], triggers: list[str | None]
) -> AutoPipelineBlocks:
    """An AutoPipelineBlocks built at run time from branches and their triggers."""
    cls: Any = type("ComposedAutoBlocks", (AutoPipelineBlocks,), {"block_trigger_inputs": list(triggers)})
    auto: AutoPipelineBlocks = cls.from_blocks_dict(dict(blocks))
    auto.origin = BlockOrigin(composed=True)
    return auto


def family_of(blocks: ModularPipelineBlocks) -> str | None:
    """The one model family every leaf with a ``model_name`` belongs to, else None."""
    names: set[str] = set()
    walk = getattr(blocks, "walk", None)
    for _, block in [("", blocks)] + list(walk() if walk else []):
        if not hasattr(block, "sub_blocks") and block.model_name:
            names.add(block.model_name)
    if not names and blocks.model_name:
        names.add(blocks.model_name)
    return names.pop() if len(names) == 1 else None


def _wrap(item: Any, block: ModularPipelineBlocks) -> SequentialPipelineBlocks:
    """A one-entry sequence around a non-sequential block (an Auto, Loop or leaf block).

    Marked composed, like the sequences ``_Builder.sequence`` builds, so a spec file saves it
    as the inner block's registered name rather than refusing the unregistered wrapper."""
    seq = SequentialPipelineBlocks.from_blocks_dict({_key_for(item, 0): block})
    seq.origin = BlockOrigin(composed=True)
    return seq


def compose(
    spec: ComposeSpec, *, registry: Registry | None = None, validate: bool = True
) -> SequentialPipelineBlocks:
    """A SequentialPipelineBlocks from registered names, blocks, and nested lists or dicts.

    A single registered name of a multi-block (``"sd.text2img"``) returns that workflow.
    Problems (unknown names, duplicate keys, data-flow conflicts) are reported together in one
    :class:`CompositionError`.
    """
    builder = _Builder(registry or get_registry())
    if isinstance(spec, str):
        block = builder.block(spec, "")
        if block is not None and not isinstance(block, SequentialPipelineBlocks):
            block = _wrap(spec, block)
        result = block
    elif isinstance(spec, ModularPipelineBlocks):
        result = spec if isinstance(spec, SequentialPipelineBlocks) else _wrap(spec, spec)
    elif isinstance(spec, (list, tuple, Mapping)):
        if not spec:
            builder.problems.append(
                Problem("empty", "", None, "nothing to compose: give at least one block name")
            )
        result = builder.sequence(spec, "")
    else:
        raise TypeError(f"compose() takes a name, a block, a list or a dict, not {type(spec).__name__}")
    if builder.problems or result is None:
        raise CompositionError(builder.problems)
    family = family_of(result)
    if family and not result.model_name:
        result.model_name = family
    if validate:
        result.validate()
    return result
