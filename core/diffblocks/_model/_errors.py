"""Error classes. Every error raised for bad input names the block path, the parameter and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any


def did_you_mean(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The names in ``choices`` closest to ``name`` (for "did you mean ...?" hints)."""
    return difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)


def suggest(name: str, choices: Iterable[str], *, n: int = 1, aside: bool = False, what: str = "") -> str:
    """The one did-you-mean text: `` Did you mean 'x'?`` to end a sentence, or with ``aside``
    `` (did you mean 'x'?)`` to follow a name in a list; "" when nothing is close. ``n`` is how
    many names to offer; ``what`` names their kind (``"the distribution "``)."""
    return phrase_close(did_you_mean(name, choices, n), aside=aside, what=what)


def phrase_close(close: Sequence[str], *, aside: bool = False, what: str = "") -> str:
    """:func:`suggest`'s text for close names already found (errors that keep them)."""
    if not close:
        return ""
    names = ", ".join(repr(c) for c in close)
    return f" (did you mean {what}{names}?)" if aside else f" Did you mean {what}{names}?"


class DiffblocksError(Exception):
    """Base class of every error diffblocks raises on purpose.

    ``path`` is the dotted location of the block inside the pipeline; multi-blocks prepend
    their sub-block name while the error travels up, so the message always shows the full path.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.path: list[str] = []
        self.state: Any = None
        # (loop block, block state) whose finished work the enclosing runner writes back.
        self._pending_salvage: tuple[Any, Any] | None = None

    @property
    def block_path(self) -> str:
        return ".".join(self.path) or "<root>"

    def _prepend(self, name: str) -> None:
        self.path.insert(0, name)


class BlockDefinitionError(DiffblocksError, ValueError):
    """A block or multi-block is declared wrongly (bad trigger list, colliding sub-block names, ...)."""


class MissingInputError(DiffblocksError, ValueError):
    """One or more required inputs have no value. Raised before the first block runs."""

    def __init__(self, missing: Sequence[tuple[str, str, str]]) -> None:
        # missing: (block path, block class name, parameter name)
        super().__init__()
        self.missing = list(missing)

    @property
    def names(self) -> list[str]:
        return sorted({param for _, _, param in self.missing})

    def __str__(self) -> str:
        prefix = ".".join(self.path)
        lines = [f"{len(self.missing)} required input(s) missing; no block has run:"]
        for path, cls, param in self.missing:
            full = ".".join(p for p in (prefix, path) if p) or "<root>"
            lines.append(
                f"  - {param!r} is required by block {full!r} ({cls}): pass {param}=... to the "
                f"pipeline call, or add a block upstream that produces {param!r}."
            )
        return "\n".join(lines)


class UnknownInputError(DiffblocksError, TypeError):
    """A keyword passed to a pipeline call is not an input of any block."""

    def __init__(self, unknown: Sequence[tuple[str, list[str]]], accepted: Sequence[str]) -> None:
        super().__init__()
        self.unknown = list(unknown)
        self.accepted = sorted(accepted)

    def __str__(self) -> str:
        lines = []
        for name, close in self.unknown:
            lines.append(f"{name!r} is not an input of this pipeline.{phrase_close(close)}")
        lines.append("Accepted inputs: " + (", ".join(self.accepted) or "(none)"))
        return "\n".join(lines)


class MissingOutputError(DiffblocksError, RuntimeError):
    """A block finished without setting an output it declares."""

    def __init__(self, block_class: str, output: str) -> None:
        super().__init__()
        self.block_class = block_class
        self.output = output

    def __str__(self) -> str:
        return (
            f"block {self.block_path!r} ({self.block_class}) declares output {self.output!r} "
            f"but did not set it: assign block_state.{self.output} before set_block_state(), "
            f"or remove it from intermediate_outputs."
        )


class MissingComponentError(DiffblocksError, ValueError):
    """Blocks that will run need components that are not loaded."""

    def __init__(self, missing: Sequence[tuple[str, str, str]]) -> None:
        super().__init__()
        self.missing = list(missing)  # (block path, block class, component name)

    def __str__(self) -> str:
        by_component: dict[str, list[str]] = {}
        for path, cls, comp in self.missing:
            by_component.setdefault(comp, []).append(f"{path or '<root>'!r} ({cls})")
        lines = [f"{len(by_component)} component(s) not loaded; no block has run:"]
        for comp, users in by_component.items():
            lines.append(
                f"  - component {comp!r} is needed by block {', '.join(users)}: "
                f"call pipe.update_components({comp}=...) or pipe.load_components(path)."
            )
        return "\n".join(lines)


class BlockExecutionError(DiffblocksError, RuntimeError):
    """A block raised. The original exception is chained; ``state`` holds the partial pipeline state."""

    def __init__(self, block_class: str, original: BaseException) -> None:
        super().__init__()
        self.block_class = block_class
        self.original = original

    def __str__(self) -> str:
        hint = ""
        if isinstance(self.original, AttributeError) and "BlockState" in str(self.original):
            hint = (
                f" The block read a value it did not declare: add "
                f"InputParam({getattr(self.original, 'name', None)!r}) to its inputs."
            )
        return (
            f"block {self.block_path!r} ({self.block_class}) raised "
            f"{type(self.original).__name__}: {self.original}.{hint} Values computed before it "
            f"are kept on this exception's .state."
        )


__all__ = [
    "CompositionError",
    "Problem",
    "BlockImportError",
    "BlockNotFoundError",
    "NameConflictError",
    "PluginError",
    "BlockDefinitionError",
    "BlockExecutionError",
    "DiffblocksError",
    "MissingComponentError",
    "MissingInputError",
    "MissingOutputError",
    "UnknownInputError",
]


class PluginError(DiffblocksError):
    """A plugin could not be loaded (raised only in strict mode; otherwise recorded)."""


class BlockNotFoundError(DiffblocksError, KeyError):
    """No block is registered under a name. The message lists close names and what exists."""

    def __init__(
        self,
        name: str,
        close: Sequence[str],
        known: Sequence[str],
        provider: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(name)
        self.name, self.close, self.known, self.provider = name, list(close), sorted(known), provider
        self.reason = reason  # why the provider is not loaded (its error, for a failed plugin)

    def __str__(self) -> str:
        parts = [f"no block named {self.name!r} is registered."]
        if self.provider and self.reason:
            parts.append(f"It is provided by {self.provider}: {self.reason}")
        elif self.provider:
            parts.append(f"It is provided by {self.provider}, which is not loaded: install it or enable it.")
        if self.close:
            parts.append(phrase_close(self.close).lstrip())
        # the closest names only: a registry of hundreds of plugins would drown the message
        parts.append(f"Run `diffblocks blocks list` to see all {len(self.known)} registered blocks.")
        return " ".join(parts)


class NameConflictError(DiffblocksError, LookupError):
    """Two distributions claim one name (block, model family, component loader); no single override."""

    def __init__(self, name: str, claimants: Sequence[str], kind: str = "block name") -> None:
        super().__init__(name)
        self.name, self.claimants, self.kind = name, list(claimants), kind

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.name!r} is claimed by {len(self.claimants)} distributions: "
            f"{', '.join(self.claimants)}. Uninstall or disable one (DIFFBLOCKS_PLUGINS=-name), or "
            f"have exactly one register it with override=True."
        )


class BlockImportError(DiffblocksError, RuntimeError):
    """The target behind a lazily registered block could not be imported."""

    def __init__(self, name: str, target: str, distribution: str | None, original: BaseException) -> None:
        super().__init__(name)
        self.name, self.target, self.distribution, self.original = name, target, distribution, original

    def __str__(self) -> str:
        return (
            f"block {self.name!r} ({self.target}, from {self.distribution or 'runtime registration'}) "
            f"could not be loaded: {type(self.original).__name__}: {self.original}. Other blocks are "
            f"unaffected; check that plugin's installation."
        )


class Problem:
    """One composition problem: a stable code, where (block path and parameter), and the fix."""

    __slots__ = ("code", "path", "param", "message")

    def __init__(self, code: str, path: str, param: str | None, message: str) -> None:
        self.code, self.path, self.param, self.message = code, path, param, message

    def __repr__(self) -> str:
        return f"Problem({self.code!r}, {self.path!r}, {self.param!r})"

    def __str__(self) -> str:
        where = self.path or "<pipeline>"
        if self.param:
            where += f" [{self.param}]"
        return f"{self.code}: {where}: {self.message}"


class CompositionError(DiffblocksError, ValueError):
    """Everything wrong with a composed pipeline or spec file, reported together."""

    def __init__(self, problems: Sequence[Problem], source: str | None = None) -> None:
        super().__init__()
        self.problems = list(problems)
        self.source = source

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]

    def __str__(self) -> str:
        head = f"{len(self.problems)} problem(s) in {self.source or 'the composed pipeline'}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class BadReturnError(BlockExecutionError):
    """A block's ``__call__`` returned something other than a ``(components, state)`` pair; the
    unpacking error is chained, ``state`` holds the partial pipeline state."""

    def __init__(self, block_class: str, original: BaseException, returned: str, expected: str) -> None:
        super().__init__(block_class, original)
        self.returned = returned
        self.expected = expected

    def __str__(self) -> str:
        return (
            f"block {self.block_path!r} ({self.block_class}) returned {self.returned}; __call__ must "
            f"return {self.expected}: end it with 'return {self.expected[1:-1]}'. Values computed "
            f"before it are kept on this exception's .state."
        )


class UnknownOutputError(DiffblocksError, ValueError):
    """``output=`` asked for names the pipeline neither declares, takes nor held after the run.

    Raised after the run (a block may write a value it does not declare, and diffusers returns
    such a value), so ``state`` holds everything computed."""

    def __init__(self, unknown: Sequence[tuple[str, list[str]]], known: Iterable[str]) -> None:
        super().__init__()
        self.unknown = list(unknown)
        self.known = sorted(known)

    def __str__(self) -> str:
        lines = []
        for name, close in self.unknown:
            lines.append(
                f"output={name!r} is not a value of this pipeline: no block declares it, it is not "
                f"an input, and the run did not set it.{phrase_close(close)}"
            )
        lines.append("Pass output= one of: " + (", ".join(self.known) or "(none)"))
        lines.append("The run finished; its values are kept on this exception's .state.")
        return "\n".join(lines)
