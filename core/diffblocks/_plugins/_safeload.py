"""Component loaders from plugins, held to the safetensors-only rule.

The pipeline loads models only from safetensors files (``from_pretrained(use_safetensors=True)``,
in ``_runtime._loading.load_component``). A plugin's loader replaces that call for its type,
so it could read pickled weights; it is therefore never used for models: a component whose type
is a model class, or a loader that returns a model, is refused with ComponentLoadError. Plugin
loaders are for the formats diffusers does not read (vocabularies, tables, configs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._model._errors import NameConflictError
from .._model._params import ComponentLoadError


class PluginComponentLoader:
    """A plugin's loader for one component type name, refusing models (see the module doc)."""

    def __init__(self, type_name: str, fn: Callable[..., Any], distribution: str) -> None:
        self.type_name, self.fn, self.distribution = type_name, fn, distribution

    def __call__(self, spec: Any, path: Any, **opts: Any) -> Any:
        from .._runtime._loading import is_model_class

        if is_model_class(spec.type_hint):
            raise ComponentLoadError(self._refusal(spec, "its type is a model class"))
        result = self.fn(spec, path, **opts)
        if _is_model_instance(result):
            raise ComponentLoadError(self._refusal(spec, f"it returned a model ({type(result).__name__})"))
        return result

    def _refusal(self, spec: Any, why: str) -> str:
        return (
            f"component {spec.name!r}: the component loader for {self.type_name!r} from "
            f"{self.distribution} may not load it: {why}. Models load only from safetensors files "
            f"through from_pretrained; plugin loaders are for other formats. Disable that plugin "
            f"(DIFFBLOCKS_PLUGINS=-{self.distribution}) or give the component a non-model type."
        )

    def __repr__(self) -> str:
        return f"<component loader for {self.type_name!r} from {self.distribution}: {self.fn!r}>"


class ContestedLoader:
    """Stands in for a type name several plugins claim a loader for: refused when used."""

    def __init__(self, type_name: str, claimants: Sequence[str]) -> None:
        self.type_name, self.claimants = type_name, list(claimants)

    def __call__(self, spec: Any, path: Any, **opts: Any) -> Any:
        raise NameConflictError(self.type_name, self.claimants, kind="component loader")

    def __repr__(self) -> str:
        return f"<contested component loader for {self.type_name!r}: {', '.join(self.claimants)}>"


def _is_model_instance(obj: Any) -> bool:
    # torch.nn.Module and diffusers/transformers models, without importing torch
    return not isinstance(obj, type) and all(
        callable(getattr(obj, a, None)) for a in ("parameters", "state_dict", "to")
    )
