"""Run many rows of pipeline inputs, batching compatible rows into one pipeline call.

Shared by ``diffblocks batch`` and ``diffblocks serve``. The interface (kept stable):

``Row(id, inputs, seed)``
    One request: its pipeline inputs (shared values already merged in) and its seed (None: no
    generator, fresh noise).
``RowResult(row, images, error, seconds, exception)``
    ``images`` is the row's slice of the pipeline's output (a list of PIL images by default),
    ``error`` is None or the message, ``seconds`` the row's share of the call that made it,
    ``exception`` the exception behind ``error`` when the pipeline raised (else None).
``InputRules.from_blocks(blocks, defaults)``
    What a pipeline accepts, read from its declarations only (no weights): ``check(inputs)``
    raises :class:`RowInputError` for unknown names, wrong types and missing required inputs;
    ``key(row)`` is the compatibility key; ``per_row`` names the inputs that vary per row.
``RowRunner(pipe, device=None, max_batch_size=16, output=None, fixed=None)``
    ``check(row) -> str | None``, ``group(rows) -> list[list[Row]]`` and ``run(rows) ->
    list[RowResult]`` (results in the order of ``rows``). Pipeline calls are serialized by a
    lock, so threads may share one runner.
``load_blocks(target)`` / ``make_pipeline(blocks, device)``
    A spec file or registered name as blocks plus its record source, and a loaded pipeline, the
    way ``diffblocks run`` builds them.

Batching rule. An input is *per row* when its declared type admits both one value and a list of
them (``"str | list[str]"``: prompt, negative_prompt): a call gets the list of the rows' values.
Every other input must be equal across the rows of one call; those values (plus which per-row
inputs are present, and whether the row is seeded) are the compatibility key.

Seeding reproduces ``diffblocks run --seed S``: a row's generator is
``torch.Generator(device or "cpu").manual_seed(seed)``. A one-row call gets that generator itself
(exactly the run's code path); a batched call gets a list with one generator per image, a row's
generator repeated ``num_images_per_prompt`` times so its images draw the same noise in the same
order as the single run. (For one image per row this is exact everywhere. For several, it is
exact on CPU when an image's noise has a multiple of 16 values, as the shapes model's and SD's
latents do: torch's CPU sampler fills blocks of 16, so k draws of one image equal one draw of k.
CUDA's Philox sampler makes no such promise, so there several images per row may differ from
``diffblocks run``.) A failed batched call is re-run row by row, so only the bad rows
fail.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._model._errors import suggest
from .._model._hints import compile_hint, is_sequence_hint, union_members

#: Inputs a row may not give: the runner makes them (the generator comes from the row's seed).
RESERVED = frozenset({"generator"})
#: Seeds go to ``torch.Generator.manual_seed``, which takes 64-bit values.
SEED_MAX = 2**64 - 1
#: Keywords of the pipeline call itself (``pipe(state=..., output=...)``): never inputs.
CALL_KEYWORDS = frozenset({"state", "output"})


class RowInputError(ValueError):
    """A row's inputs do not fit the pipeline (unknown name, wrong type, missing input)."""


@dataclass
class Row:
    """One request: pipeline inputs, a seed (None: unseeded) and an id that names its files."""

    id: str
    inputs: dict[str, Any]
    seed: int | None = None


@dataclass
class RowResult:
    """What became of one row: its images, or the error that stopped it."""

    row: Row
    images: list[Any] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    #: the exception behind ``error`` when the pipeline raised (serve reads its ``block_path``)
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None


def seed_problem(seed: Any) -> str | None:
    """Why ``seed`` cannot seed a generator, or None: the one seed rule of run, batch and serve."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        return f"a seed must be a whole number from 0 to 2**64 - 1 ({SEED_MAX}), not {seed!r}"
    return None


# -- type hints ----------------------------------------------------------------------------
# Values are judged by the pipeline's own checker (diffblocks._model._hints), read per union
# member so that a per-row input ("str | list[str]") can be held to its one-value members.
def _fits(members: Sequence[Any], value: Any) -> bool:
    """Whether ``value`` fits one of the union ``members`` (a member we cannot check fits all)."""
    checkers = [compile_hint(m) for m in members]
    return any(c is None or c.ok(value) for c in checkers)


def hint_text(hint: Any) -> str:
    """How a declared type reads in an error message."""
    if isinstance(hint, str):
        return hint
    if isinstance(hint, type):
        return hint.__name__
    return repr(hint).replace("typing.", "")


def admits_str(hint: Any) -> bool:
    """Whether a text value is acceptable as it is (CSV cells stay text for such inputs)."""
    return _fits(union_members(hint), "text")


def is_per_row(hint: Any) -> bool:
    """True for hints like ``"str | list[str]"``: one value, or a list of them (one per row)."""
    members = union_members(hint)
    if not any(is_sequence_hint(m) for m in members):
        return False
    # a member that checks one value, and is not None (Optional) or unchecked (Any)
    ones = [compile_hint(m) for m in members if not is_sequence_hint(m)]
    return any(c is not None and not c.ok(None) for c in ones)


def _key_value(value: Any) -> Hashable:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return ("object", id(value))  # the same object (a shared tensor) can still share a call


# -- what a pipeline accepts -----------------------------------------------------------------
class InputRules:
    """The inputs a pipeline takes, their declared types, and which ones vary per row."""

    def __init__(
        self,
        hints: Mapping[str, Any],
        required: Iterable[str] = (),
        defaults: Mapping[str, Any] | None = None,
        param_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.hints = dict(hints)
        self.names = frozenset(self.hints)
        self.defaults = dict(defaults or {})
        self.param_defaults = dict(param_defaults or {})
        self.required = frozenset(required) - set(self.defaults)
        self.per_row = frozenset(n for n, h in self.hints.items() if is_per_row(h)) - RESERVED

    @classmethod
    def from_blocks(cls, blocks: Any, defaults: Mapping[str, Any] | None = None) -> InputRules:
        """Read the rules from a block tree's declarations (nothing is loaded).

        ``defaults`` are values the pipeline applies when a caller leaves them out (a spec file's
        ``[inputs]``); ``None`` takes them from ``blocks`` itself.
        """
        if defaults is None:
            # where ModularPipeline itself finds a spec file's [inputs]
            defaults = blocks.origin.spec_inputs
        hints: dict[str, Any] = {}
        param_defaults: dict[str, Any] = {}
        # the pipeline's own inputs first (their aggregated declaration wins), then nested
        # `inputs` a caller may still override: the names ModularPipeline accepts
        params = [*blocks.inputs, *blocks.intermediate_inputs]
        walk = getattr(blocks, "walk", None)
        if walk is not None:
            for _, block in walk():
                params += block.inputs
        for p in params:
            if p.name:
                hints.setdefault(p.name, p.type_hint)
                if p.default is not None:
                    param_defaults.setdefault(p.name, p.default)
        required = [p.name for p in blocks.inputs if p.required and p.name]
        return cls(hints, required, defaults, param_defaults)

    def value(self, inputs: Mapping[str, Any], name: str) -> Any:
        """The value the pipeline will use for ``name``: given, else spec default, else declared."""
        if inputs.get(name) is not None:
            return inputs[name]
        if self.defaults.get(name) is not None:
            return self.defaults[name]
        return self.param_defaults.get(name)

    def check(self, inputs: Mapping[str, Any], *, complete: bool = True) -> None:
        """Raise :class:`RowInputError` naming every problem with these inputs; ``complete=False``
        checks only the values given (shared values, before rows add theirs)."""
        problems = []
        for name, value in inputs.items():
            if name in CALL_KEYWORDS:
                problems.append(f"{name!r} is reserved (a keyword of the pipeline call), not an input")
            elif name in RESERVED:
                problems.append(f"{name!r} cannot be given per row; give a 'seed' instead")
            elif name not in self.names:
                hint = suggest(name, sorted(self.names), aside=True)
                problems.append(
                    f"unknown input {name!r}{hint}; this pipeline takes: {', '.join(sorted(self.names))}"
                )
            elif value is not None:
                hint = self.hints[name]
                members = union_members(hint)
                if name in self.per_row:
                    # one value per row: lists are what the runner builds from several rows
                    members = [m for m in members if not is_sequence_hint(m)] or members
                    if isinstance(value, (list, tuple)) and not _fits(members, value):
                        problems.append(
                            f"{name!r} takes one value per row, got a list; put each value on its own row"
                        )
                        continue
                if not _fits(members, value):
                    problems.append(
                        f"{name!r} expects {hint_text(hint)}, got {type(value).__name__} {_short(value)}"
                    )
        missing = sorted(n for n in self.required if complete and inputs.get(n) is None)
        if missing:
            problems.append(f"missing required input(s): {', '.join(missing)}")
        if problems:
            raise RowInputError("; ".join(problems))

    def shared_names(self, inputs: Mapping[str, Any]) -> list[str]:
        return sorted(n for n in inputs if n not in self.per_row and inputs[n] is not None)

    def key(self, row: Row) -> Hashable:
        """Rows with equal keys can share one pipeline call."""
        shared = tuple((n, _key_value(row.inputs[n])) for n in self.shared_names(row.inputs))
        present = frozenset(n for n in self.per_row if self.value(row.inputs, n) is not None)
        return shared, present, row.seed is None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# -- running -------------------------------------------------------------------------------
class RowRunner:
    """Runs rows on one pipeline, compatible rows batched into one call of up to
    ``max_batch_size`` rows.

    ``device`` is where generators are made (and the ``device`` input, when the pipeline takes
    one); move the pipeline there first (:func:`make_pipeline` does). ``output`` is the output to
    return per row (default: ``images`` when the pipeline makes it, else its last output).
    ``fixed`` are inputs set on every call and not part of any row (e.g. ``show_progress``); by
    default ``output_type="pil"`` and ``show_progress=False`` when the pipeline takes them.
    """

    def __init__(
        self,
        pipe: Any,
        *,
        device: str | None = None,
        max_batch_size: int = 16,
        output: str | None = None,
        fixed: Mapping[str, Any] | None = None,
        rules: InputRules | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        self.pipe = pipe
        self.device = device
        self.max_batch_size = max_batch_size
        self.rules = rules or InputRules.from_blocks(pipe.blocks, getattr(pipe, "default_inputs", None))
        outputs = list(pipe.blocks.output_names)
        if output is None:
            output = "images" if "images" in outputs else outputs[-1] if outputs else None
        if output is None:
            raise ValueError("this pipeline declares no output to return per row")
        self.output = output
        names = self.rules.names
        default_fixed = {"output_type": "pil", "show_progress": False}
        self.fixed = {k: v for k, v in default_fixed.items() if k in names}
        if device is not None and "device" in names:
            self.fixed["device"] = device
        self.fixed.update(fixed or {})
        self._lock = threading.Lock()

    # -- planning -----------------------------------------------------------------------
    def check(self, row: Row) -> str | None:
        """The reason this row cannot run, or None (checked before any compute)."""
        try:
            self.rules.check(row.inputs)
        except RowInputError as exc:
            return str(exc)
        clash = [k for k, v in self.fixed.items() if row.inputs.get(k) is not None and row.inputs[k] != v]
        if clash:
            return "; ".join(
                f"{k!r} is fixed to {self.fixed[k]!r} here; remove it from the row" for k in clash
            )
        if row.seed is not None and "generator" not in self.rules.names and "seed" not in self.rules.names:
            return "this pipeline takes neither a 'generator' nor a 'seed' input, so rows cannot be seeded"
        return None

    def key(self, row: Row) -> Hashable:
        key = self.rules.key(row)
        if "generator" not in self.rules.names and row.seed is not None:
            key = (key, row.seed)  # a `seed` input is one value per call
        return key

    def group(self, rows: Iterable[Row]) -> list[list[Row]]:
        """Compatible rows together, in order of first appearance, chunks of ``max_batch_size``."""
        groups: dict[Hashable, list[list[Row]]] = {}
        for row in rows:
            chunks = groups.setdefault(self.key(row), [[]])
            if len(chunks[-1]) >= self.max_batch_size:
                chunks.append([])
            chunks[-1].append(row)
        return [chunk for chunks in groups.values() for chunk in chunks]

    def run(self, rows: Sequence[Row]) -> list[RowResult]:
        """Check, group and run ``rows``; one result per row, in the same order."""
        results: dict[int, RowResult] = {}
        good: list[Row] = []
        for i, row in enumerate(rows):
            problem = self.check(row)
            if problem is not None:
                results[i] = RowResult(row, error=problem)
            else:
                good.append(row)
        index = {id(row): i for i, row in enumerate(rows)}
        for batch in self.group(good):
            for result in self.run_batch(batch):
                results[index[id(result.row)]] = result
        return [results[i] for i in range(len(rows))]

    def run_batch(self, rows: Sequence[Row]) -> list[RowResult]:
        """Run checked, compatible rows as one call; on failure, again one row at a time."""
        if not rows:
            return []
        start = time.perf_counter()
        try:
            outputs = self._call(rows)
        except Exception as exc:  # noqa: BLE001 - any failure is reported per row below
            if len(rows) == 1:
                return [
                    RowResult(
                        rows[0], error=_message(exc), seconds=time.perf_counter() - start, exception=exc
                    )
                ]
            return [result for row in rows for result in self.run_batch([row])]
        share = (time.perf_counter() - start) / len(rows)
        return [RowResult(row, images=images, seconds=share) for row, images in zip(rows, outputs)]

    # -- one pipeline call ---------------------------------------------------------------
    def _call(self, rows: Sequence[Row]) -> list[list[Any]]:
        import torch

        first = rows[0].inputs
        values: dict[str, Any] = {n: first[n] for n in self.rules.shared_names(first)}
        single = len(rows) == 1
        for name in self.rules.per_row:
            if single:
                if first.get(name) is not None:
                    values[name] = first[name]  # exactly what `diffblocks run` passes
                continue
            # the key makes these all None or all set (given, or the pipeline's default)
            per_row = [self.rules.value(row.inputs, name) for row in rows]
            if per_row[0] is not None:
                values[name] = per_row
        values.update(self.fixed)
        per_image = self._images_per_row(first)
        if rows[0].seed is not None:
            if "generator" in self.rules.names:
                seeds = [r.seed for r in rows if r.seed is not None]  # all of them: the key says so
                gens = [torch.Generator(self.device or "cpu").manual_seed(s) for s in seeds]
                values["generator"] = gens[0] if single else [g for g in gens for _ in range(per_image)]
            else:
                values["seed"] = rows[0].seed  # the key keeps rows of one seed together
        with self._lock, torch.no_grad():
            out = self.pipe(**values, output=self.output)
        return _split(out, len(rows), self.output)

    def _images_per_row(self, inputs: Mapping[str, Any]) -> int:
        if "num_images_per_prompt" not in self.rules.names:
            return 1
        value = self.rules.value(inputs, "num_images_per_prompt")
        return int(value) if isinstance(value, int) and value > 0 else 1


def _split(out: Any, n_rows: int, name: str) -> list[list[Any]]:
    items = list(out) if isinstance(out, (list, tuple)) or hasattr(out, "shape") else [out]
    if n_rows == 1:
        return [items]
    if len(items) % n_rows:
        raise ValueError(f"the pipeline returned {len(items)} {name} for {n_rows} rows; cannot split them")
    k = len(items) // n_rows
    return [items[i * k : (i + 1) * k] for i in range(n_rows)]


def _message(exc: BaseException) -> str:
    text = str(exc.args[0] if type(exc) is KeyError and exc.args else exc)
    # a row's record has no exception object to look into: drop the pointer to one
    text = text.replace(" Values computed before it are kept on this exception's .state.", "")
    return text or type(exc).__name__


# -- building pipelines --------------------------------------------------------------------
def is_spec_path(target: str) -> bool:
    """Whether a command's target names a spec file (a .toml/.json name or a path), not a
    registered block name."""
    seps = [os.sep] + ([os.altsep] if os.altsep else [])
    return target.lower().endswith((".toml", ".json")) or any(sep in target for sep in seps)


def load_blocks(target: str) -> tuple[Any, dict[str, Any]]:
    """``target`` (a spec file or a registered block name) as blocks, and how to record it:
    ``{"block": name}`` or ``{"spec": spec dict}`` (the keywords of ``generation_record``)."""
    from .. import CompositionError, Problem, compose, load_spec, spec_dict

    if is_spec_path(target):
        if not os.path.exists(target):
            raise CompositionError([Problem("no-such-file", "", None, f"{target!r} does not exist")], target)
        blocks = load_spec(target)
        return blocks, {"spec": spec_dict(blocks)}
    return compose(target), {"block": target}


def make_pipeline(blocks: Any, device: str | None = None) -> Any:
    """A pipeline with its default components loaded, moved to ``device``, as ``diffblocks run``."""
    pipe = blocks.init_pipeline()
    pipe.load_default_components()
    if device:
        pipe.to(device)
    return pipe


__all__ = [
    "CALL_KEYWORDS",
    "SEED_MAX",
    "InputRules",
    "Row",
    "RowInputError",
    "RowResult",
    "RowRunner",
    "admits_str",
    "hint_text",
    "is_per_row",
    "is_spec_path",
    "load_blocks",
    "make_pipeline",
    "seed_problem",
]
