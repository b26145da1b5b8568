"""Declarations a block makes: its inputs, outputs, components and configs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from .._model._imports import import_target
from ._errors import DiffblocksError


@dataclass
class InputParam:
    """A value a block reads.

    A nameless ``InputParam(kwargs_type="t")`` collects every value tagged ``t`` into a dict
    attribute ``t`` of the block state.
    """

    name: str | None = None
    type_hint: Any = None
    default: Any = None
    required: bool = False
    description: str = ""
    kwargs_type: str | None = None

    def __repr__(self) -> str:
        return f"<{self.name}: {'required' if self.required else 'optional'}, default={self.default!r}>"


@dataclass
class OutputParam:
    """A value a block writes into the pipeline's intermediates."""

    name: str
    type_hint: Any = None
    description: str = ""
    kwargs_type: str | None = None

    def __repr__(self) -> str:
        return f"<{self.name}: {type_hint_name(self.type_hint)}>"


@dataclass
class ConfigSpec:
    """A plain configuration value of a pipeline (not a model), with its default."""

    name: str
    default: Any = None
    description: str = ""


class ComponentLoadError(DiffblocksError, ValueError):
    """A component could not be created or loaded."""


@dataclass
class ComponentSpec:
    """A component (model, scheduler, processor) a block needs, and how to make it.

    ``default_creation_method="from_config"`` builds it with ``type_hint.from_config(config)`` (or
    ``type_hint(**config)``) when the pipeline is initialised; ``"from_pretrained"`` leaves it
    empty until :meth:`ModularPipeline.load_components` loads it from a local folder. Nothing is
    ever downloaded: ``repo`` must be a local directory.
    """

    name: str
    type_hint: Any = None
    description: str = ""
    config: dict[str, Any] | None = None
    repo: str | os.PathLike[str] | None = None
    subfolder: str | None = None
    variant: str | None = None
    revision: str | None = None
    default_creation_method: Literal["from_config", "from_pretrained"] = "from_pretrained"
    path: str | os.PathLike[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.path is not None and self.repo is None:
            self.repo = self.path
        self.path = self.repo
        if self.default_creation_method not in ("from_config", "from_pretrained"):
            raise ComponentLoadError(
                f"component {self.name!r}: default_creation_method must be 'from_config' or "
                f"'from_pretrained', got {self.default_creation_method!r}"
            )

    def create(self, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Build the component from its config (no weights are read)."""
        cls = self._resolved_type()
        cfg = {**(self.config or {}), **(config or {}), **kwargs}
        try:
            if hasattr(cls, "from_config"):
                return cls.from_config(cfg)
            return cls(**cfg)
        except Exception as exc:
            raise ComponentLoadError(
                f"component {self.name!r}: could not create {type_hint_name(cls)} from config {cfg!r}: {exc}"
            ) from exc

    def load(self, repo: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
        """Load the component with ``type_hint.from_pretrained`` from a local folder.

        ``repo`` overrides the spec's own; ``subfolder`` and ``variant`` come from the spec unless
        given. Hub downloads are refused.
        """
        cls = self._resolved_type()
        where = repo if repo is not None else self.repo
        if where is None:
            raise ComponentLoadError(
                f"component {self.name!r} has no local path to load from: pass one to "
                f"load_components(path) or set ComponentSpec(repo=...)"
            )
        if not os.path.isdir(where):
            raise ComponentLoadError(
                f"component {self.name!r}: {os.fspath(where)!r} is not a local directory; "
                f"diffblocks never downloads, point it at a folder in diffusers layout"
            )
        if not hasattr(cls, "from_pretrained"):
            raise ComponentLoadError(
                f"component {self.name!r}: {type_hint_name(cls)} has no from_pretrained(); "
                f"create it from config instead"
            )
        opts: dict[str, Any] = {"subfolder": self.subfolder, "variant": self.variant}
        opts.update(kwargs)
        opts = {k: v for k, v in opts.items() if v is not None}
        sub = opts.get("subfolder")
        folder = os.path.join(where, sub) if sub else where
        if not os.path.isdir(folder):
            raise ComponentLoadError(f"component {self.name!r}: folder {os.fspath(folder)!r} does not exist")
        try:
            return cls.from_pretrained(os.fspath(where), local_files_only=True, **opts)
        except TypeError:
            # tokenizers and some processors do not take every keyword
            opts.pop("variant", None)
            return cls.from_pretrained(os.fspath(where), **opts)

    def _resolved_type(self) -> Any:
        cls = self.type_hint
        if isinstance(cls, str) and ":" in cls:
            # "package.module:Class": imported on first use so declaring a spec stays cheap
            try:
                cls = import_target(cls)
            except (ImportError, AttributeError) as exc:
                raise ComponentLoadError(
                    f"component {self.name!r}: cannot import {self.type_hint!r}: {exc}"
                ) from exc
        if cls is None or isinstance(cls, str):
            raise ComponentLoadError(
                f"component {self.name!r} has no importable type_hint ({cls!r}); give the class or 'module:Class'"
            )
        return cls

    @property
    def type_name(self) -> str | None:
        """The class name of the type hint, without importing it."""
        hint = self.type_hint
        if isinstance(hint, str):
            return hint.rpartition(":")[2] or None
        return getattr(hint, "__name__", None)


def type_hint_name(hint: Any) -> str:
    """How a type hint prints in docs: the real type's name, ``None`` when there is none."""
    if hint is None:
        return "None"
    if isinstance(hint, str):
        return hint.rpartition(":")[2]
    if isinstance(hint, type):
        return hint.__qualname__
    text = repr(hint)
    return text.replace("typing.", "")


__all__ = [
    "ComponentLoadError",
    "ComponentSpec",
    "ConfigSpec",
    "InputParam",
    "OutputParam",
    "type_hint_name",
]
