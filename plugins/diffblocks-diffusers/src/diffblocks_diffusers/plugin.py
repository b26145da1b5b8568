"""Hooks of diffblocks-diffusers: one model family per Modular Diffusers family.

Everything comes from the static table; this module imports neither torch nor diffusers.
"""

from __future__ import annotations

from typing import Any

from diffblocks import ComponentSpec, ConfigSpec, ModelFamily, hookimpl

from ._names import AUTO, block_name, family_key
from ._table import TABLE


def family(name: str) -> ModelFamily:
    info = TABLE["families"][name]
    components = [
        ComponentSpec(
            name=c["name"],
            type_hint=c["type"],
            description=c["description"],
            config=dict(c["config"]) if c["config"] is not None else None,
            subfolder=c["subfolder"],
            default_creation_method=c["method"],
        )
        for c in info["components"]
    ]
    configs = [ConfigSpec(c["name"], c["default"], c["description"]) for c in info["configs"]]
    workflows = {AUTO: block_name(name, AUTO)}
    workflows.update({wf: block_name(name, wf) for wf in info["workflows"]})
    return ModelFamily(
        name=family_key(name),
        description=(
            f"diffusers' {info['model_name']} ({info['pipeline_class']}, {info['blocks_class']}). "
            f"{info['description']}"
        ).strip(),
        components=components,
        configs=configs,
        workflows=workflows,
        pipeline_class="diffblocks_diffusers.pipeline:DiffusersModularPipeline",
    )


@hookimpl
def register_families(registry: Any) -> None:
    for name in TABLE["families"]:
        registry.register(family(name))
