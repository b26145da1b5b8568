"""Hooks of diffblocks-shapes: the `shapes` family. Imports neither torch nor diffusers."""

from __future__ import annotations

from diffblocks import ModelFamily, hookimpl

from .components import ALL


@hookimpl
def register_families(registry):
    registry.register(
        ModelFamily(
            name="shapes",
            description="A 32x32 text-to-image model of coloured shapes, trained by this package's train.py.",
            components=list(ALL),
            workflows={"text2img": "shapes.text2img"},
            pipeline_class="diffblocks_shapes.pipeline:ShapesPipeline",
        )
    )
