"""The hooks a plugin may implement. Each is documented with a runnable example in docs/plugins.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._claims import BlockRegistrar, ComponentLoaderRegistrar, FamilyRegistrar

PROJECT = "diffblocks"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class DiffblocksSpecs:
    """Hook specifications of diffblocks (project name ``diffblocks``)."""

    @hookspec
    def register_blocks(self, registry: BlockRegistrar) -> None:
        """Register blocks by name: ``registry.register("ns.name", BlockClass_or_instance_or_"module:attr")``.

        Pass ``override=True`` to deliberately replace another distribution's block of that name.
        """

    @hookspec
    def register_families(self, registry: FamilyRegistrar) -> None:
        """Register model families: ``registry.register(ModelFamily(name=..., ...))``.

        Pass ``override=True`` to deliberately replace another distribution's family of that name.
        """

    @hookspec
    def register_component_loaders(self, registry: ComponentLoaderRegistrar) -> None:
        """Register a loader for a component type: ``registry.register("TypeName", fn)``.

        ``fn(spec, path, **kwargs)`` returns the loaded component; it replaces
        ``type_hint.from_pretrained`` for components whose type has that name, except models:
        those load only from safetensors, so a loader is refused for them. Pass
        ``override=True`` to deliberately replace another distribution's loader for that type.
        """


HOOK_NAMES = ("register_blocks", "register_families", "register_component_loaders")
