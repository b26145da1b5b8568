"""Declarations a block makes: its inputs, outputs, components and configs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .._model._imports import import_target
from ._errors import DiffblocksError


@dataclass
class InputParam:
    """A value a block reads.

    A nameless ``InputParam(kwargs_type="t")`` collects every value tagged ``t`` into a dict
    attribute ``t`` of the block state. ``metadata`` is free-form, for tools. ``defaults_by_block``
    is set by aggregation only: where the branches of a conditional block declare different
    defaults, it maps each branch (dotted when nested) to its own, and ``default`` is None.
    """

    name: str | None = None
    type_hint: Any = None
    default: Any = None
    required: bool = False
    description: str = ""
    kwargs_type: str | None = None
    metadata: dict[str, Any] | None = None
    defaults_by_block: dict[str, Any] | None = None
    #: Checked before any block runs (``_checks.value_problem``): the allowed values, and bounds
    #: (``ge``: >=, ``gt``: >, ``le``: <=, ``lt``: <).
    choices: list[Any] | tuple[Any, ...] | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def __repr__(self) -> str:
        return f"<{self.name}: {'required' if self.required else 'optional'}, default={self.default!r}>"

    @classmethod
    def template(cls, template_name: str, note: str | None = None, **overrides: Any) -> InputParam:
        """A param from a named template (``"prompt"``, ``"num_inference_steps"``, ...): the
        names, types and defaults every block author shares. ``note`` is added to the
        description; ``overrides`` (``name=`` too) replace template fields."""
        from ._templates import INPUT_TEMPLATES, template_fields

        return cls(**template_fields("InputParam", INPUT_TEMPLATES, template_name, note, overrides))


@dataclass
class OutputParam:
    """A value a block writes into the pipeline's intermediates. ``metadata`` is free-form.

    ``replaces=True`` says the block deliberately writes a new value of a name an earlier block
    already produced, with nothing reading the earlier one: validation then accepts it instead of
    reporting ``shadowed-output`` (which usually means two blocks clash on a name by accident).
    """

    name: str
    type_hint: Any = None
    description: str = ""
    kwargs_type: str | None = None
    metadata: dict[str, Any] | None = None
    replaces: bool = False

    def __repr__(self) -> str:
        return f"<{self.name}: {type_hint_name(self.type_hint)}>"

    @classmethod
    def template(cls, template_name: str, note: str | None = None, **overrides: Any) -> OutputParam:
        """An output from a named template (``"images"``, ``"latents"``, ``"prompt_embeds"``, ...);
        ``note`` and ``overrides`` work as in :meth:`InputParam.template`."""
        from ._templates import OUTPUT_TEMPLATES, template_fields

        return cls(**template_fields("OutputParam", OUTPUT_TEMPLATES, template_name, note, overrides))


@dataclass
class ConfigSpec:
    """A plain configuration value of a pipeline (not a model), with its default."""

    name: str
    default: Any = None
    description: str = ""


class ComponentLoadError(DiffblocksError, ValueError):
    """A component could not be created or loaded."""


#: The fields that say where a ``from_pretrained`` component lives, in diffusers' load-id order.
LOADING_FIELDS = ("pretrained_model_name_or_path", "subfolder", "variant", "revision")


@dataclass(init=False)
class ComponentSpec:
    """A component (model, scheduler, processor) a block needs, and how to make it.

    Keywords are diffusers' (``pretrained_model_name_or_path``, ``subfolder``, ``variant``,
    ``revision``, ``type_hint``, ``config``, ``default_creation_method``); ``repo`` is the same as
    ``pretrained_model_name_or_path``. ``"from_config"`` components are built from ``config`` with
    no weights when the pipeline is created; ``"from_pretrained"`` ones stay empty until
    :meth:`load` (or ``pipe.load_components()``) reads them from a local folder. Nothing is ever
    downloaded, and model weights are read from safetensors files only.
    """

    name: str
    type_hint: Any
    description: str
    config: dict[str, Any] | None
    pretrained_model_name_or_path: str | os.PathLike[str] | None
    subfolder: str | None
    variant: str | None
    revision: str | None
    default_creation_method: Literal["from_config", "from_pretrained"]

    def __init__(
        self,
        name: str,
        type_hint: Any = None,
        description: str = "",
        config: Mapping[str, Any] | None = None,
        pretrained_model_name_or_path: str | os.PathLike[str] | None = None,
        subfolder: str | None = None,
        variant: str | None = None,
        revision: str | None = None,
        default_creation_method: Literal["from_config", "from_pretrained"] = "from_pretrained",
        repo: str | os.PathLike[str] | None = None,
    ) -> None:
        if default_creation_method not in ("from_config", "from_pretrained"):
            raise ComponentLoadError(
                f"component {name!r}: default_creation_method must be 'from_config' or "
                f"'from_pretrained', got {default_creation_method!r}"
            )
        if (
            repo is not None
            and pretrained_model_name_or_path is not None
            and repo != pretrained_model_name_or_path
        ):
            raise ComponentLoadError(
                f"component {name!r}: repo={repo!r} and pretrained_model_name_or_path="
                f"{pretrained_model_name_or_path!r} disagree; they are one setting, give one of them"
            )
        self.name = name
        self.type_hint = type_hint
        self.description = description or ""
        self.config = dict(config) if config is not None else None
        self.pretrained_model_name_or_path = pretrained_model_name_or_path if repo is None else repo
        # diffusers writes "" for "no subfolder"
        self.subfolder = subfolder or None
        self.variant = variant
        self.revision = revision
        self.default_creation_method = default_creation_method

    def __hash__(self) -> int:
        # hashable as in diffusers; equal specs share name, load id and creation method
        return hash((self.name, self.load_id, self.default_creation_method))

    @property
    def repo(self) -> str | os.PathLike[str] | None:
        """The older name of :attr:`pretrained_model_name_or_path` (both work)."""
        return self.pretrained_model_name_or_path

    @repo.setter
    def repo(self, value: str | os.PathLike[str] | None) -> None:
        self.pretrained_model_name_or_path = value

    # -- diffusers' load ids: "where|subfolder|variant|revision", "null" for from_config ------
    @classmethod
    def loading_fields(cls) -> list[str]:
        """The names of the fields that locate a pretrained component."""
        return list(LOADING_FIELDS)

    @property
    def load_id(self) -> str:
        """Where this component is loaded from, as one string (``"null"`` for from_config)."""
        if self.default_creation_method == "from_config":
            return "null"
        return "|".join(
            "null" if v is None else os.fspath(v) for v in (getattr(self, f) for f in LOADING_FIELDS)
        )

    @classmethod
    def decode_load_id(cls, load_id: str) -> dict[str, str | None]:
        """The loading fields a :attr:`load_id` encodes (all None for ``"null"``)."""
        values: dict[str, str | None] = dict.fromkeys(LOADING_FIELDS)
        if load_id != "null":
            for field_name, part in zip(LOADING_FIELDS, load_id.split("|"), strict=False):
                values[field_name] = None if part == "null" else part
        return values

    @classmethod
    def from_component(cls, name: str, component: Any) -> ComponentSpec:
        """The spec that makes ``component`` again: its load id if it was loaded by a spec, else
        its config (objects without weights, e.g. schedulers), else just its type."""
        load_id = getattr(component, "_diffusers_load_id", None)
        if load_id not in (None, "null"):
            return cls(name, type(component), **cls.decode_load_id(load_id))  # type: ignore[arg-type]
        config = getattr(component, "config", None)
        if (
            config is not None
            and not hasattr(component, "parameters")
            and hasattr(type(component), "from_config")
        ):
            return cls(name, type(component), config=dict(config), default_creation_method="from_config")
        return cls(name, type(component))

    # -- making the component -----------------------------------------------------------
    def create(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """Build the component from its config (no weights are read)."""
        cls = self._resolved_type()
        cfg = {**(self.config or {}), **(config or {}), **kwargs}
        try:
            if hasattr(cls, "from_config"):
                component = cls.from_config(cfg)
            else:
                component = cls(**cfg)
        except Exception as exc:
            raise ComponentLoadError(
                f"component {self.name!r}: could not create {type_hint_name(cls)} from config {cfg!r}: {exc}"
            ) from exc
        _tag(component, "null")
        return component

    def load(self, pretrained_model_name_or_path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
        """Load the component with ``type_hint.from_pretrained`` from a local folder.

        ``pretrained_model_name_or_path`` (or the keyword ``repo``), ``subfolder``, ``variant`` and
        ``revision`` override the spec's own; other keywords go to ``from_pretrained``. Model weights
        are read from safetensors only; a name that is not a local folder (a hub id) is refused.
        """
        cls = self._resolved_type()
        overrides = {k: kwargs.pop(k) for k in LOADING_FIELDS if k in kwargs}
        repo = kwargs.pop("repo", None)
        where = pretrained_model_name_or_path if pretrained_model_name_or_path is not None else repo
        if where is None:
            where = overrides.pop("pretrained_model_name_or_path", None)
        if where is None:
            where = self.pretrained_model_name_or_path
        if where is None:
            raise ComponentLoadError(
                f"component {self.name!r} has no local folder to load from: pass one to "
                f"load_components() or set ComponentSpec(pretrained_model_name_or_path=...)"
            )
        from ._weights import weights_refusal  # pickle weights and use_safetensors=False: refused

        refusal = weights_refusal(where, overrides.get("subfolder", self.subfolder), kwargs)
        if refusal:
            raise ComponentLoadError(f"component {self.name!r}: {refusal}")
        if not os.path.isdir(where):
            raise ComponentLoadError(
                f"component {self.name!r}: {os.fspath(where)!r} is not a local folder; diffblocks "
                f"never downloads (no hub ids): download it first, then point at the folder"
            )
        if not hasattr(cls, "from_pretrained"):
            raise ComponentLoadError(
                f"component {self.name!r}: {type_hint_name(cls)} has no from_pretrained(); "
                f"create it from config instead"
            )
        fields = {f: overrides.get(f, getattr(self, f)) for f in ("subfolder", "variant", "revision")}
        fields["subfolder"] = fields["subfolder"] or None
        sub = fields["subfolder"]
        folder = os.path.join(where, sub) if sub else where
        if not os.path.isdir(folder):
            raise ComponentLoadError(f"component {self.name!r}: folder {os.fspath(folder)!r} does not exist")
        is_model = hasattr(cls, "parameters")
        if is_model:
            kwargs.setdefault("use_safetensors", True)
            if "torch_dtype" in kwargs:  # diffusers 0.42 and transformers 5 name it `dtype`
                kwargs.setdefault("dtype", kwargs.pop("torch_dtype"))
        else:
            # tokenizers and processors take no dtype (it would end up in their saved config)
            kwargs.pop("torch_dtype", None)
            kwargs.pop("dtype", None)
        opts = {k: v for k, v in {**fields, **kwargs}.items() if v is not None and k != "revision"}
        try:
            component = cls.from_pretrained(os.fspath(where), local_files_only=True, **opts)
        except TypeError:
            # some processors do not take every keyword
            opts.pop("variant", None)
            opts.pop("local_files_only", None)
            component = cls.from_pretrained(os.fspath(where), **opts)
        except OSError as exc:
            raise ComponentLoadError(
                f"component {self.name!r}: could not load from {folder!r}: {exc}"
            ) from exc
        self.pretrained_model_name_or_path = where
        self.subfolder, self.variant, self.revision = (
            fields["subfolder"],
            fields["variant"],
            fields["revision"],
        )
        _tag(component, self.load_id)
        return component

    def _resolved_type(self) -> Any:
        cls = self.type_hint
        if isinstance(cls, (tuple, list)) and len(cls) == 2:
            cls = ":".join(cls)  # ("library", "Class") as diffusers' index files write it
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
        if isinstance(hint, (tuple, list)):
            return str(hint[-1]) if hint else None
        if isinstance(hint, str):
            return hint.rpartition(":")[2] or None
        return getattr(hint, "__name__", None)


def _tag(component: Any, load_id: str) -> None:
    """Record where a component came from, as diffusers does (``_diffusers_load_id``), so
    ``update_components`` and ``save_pretrained`` keep its spec in step."""
    try:
        component._diffusers_load_id = load_id
    except (AttributeError, TypeError):
        pass  # objects with __slots__ or frozen types simply carry no tag


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
    "LOADING_FIELDS",
    "OutputParam",
    "type_hint_name",
]
