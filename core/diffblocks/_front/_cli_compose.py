"""CLI commands of the composition layer: compose, validate, graph (and run, in ``_cli_run``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._model._errors import CompositionError, Problem
from ._cli_output import UsageError


def _target(target: str) -> Any:
    """A spec file path or a registered block name, as composed blocks."""
    from .._compose._compose import compose
    from .._compose._specfile import load_spec
    from ._rows import is_spec_path

    if is_spec_path(target):
        if not Path(target).exists():
            raise CompositionError([Problem("no-such-file", "", None, f"{target!r} does not exist")], target)
        return load_spec(target)
    return compose(target)


def _is_multi(name: str) -> bool:
    from .._blocks._multi import _MultiBlocks
    from .._plugins._registry import get_registry

    try:
        return isinstance(get_registry().get_block(name), _MultiBlocks)
    except (KeyError, LookupError):
        return True  # unknown names: compose() reports them with its did-you-mean


def cmd_compose(args: argparse.Namespace) -> int:
    from .._compose._compose import compose
    from .._compose._specfile import save_spec
    from ._cli_output import atomic_write, check_destination

    save = None
    if args.save is not None:
        # checked before anything is printed: the doc alone would look like success
        if not args.save.lower().endswith((".toml", ".json")):
            raise UsageError(f"--save {args.save}: use a .toml or .json file name")
        save = check_destination(args.save, args.force, "--save", example="pipe.toml")
    elif args.force:
        raise UsageError("--force: it only applies to --save FILE")
    names = list(args.names)
    # one name: a registered workflow stays that workflow; a single leaf block is composed like
    # compose([name]), so it has a sequence around it that a spec file can describe
    blocks = compose(names if len(names) > 1 or not _is_multi(names[0]) else names[0])
    if save is not None:
        # a temporary file next to it, moved into place: a symlink there is replaced, not followed
        written = atomic_write(save, lambda tmp: save_spec(blocks, tmp))
    print(blocks.doc)
    if save is not None:
        print(f"\nsaved spec to {written}", file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        # a spec file, or a registered name (a workflow as it is registered, e.g. a bridge's)
        report = _target(args.file).validate()
    except CompositionError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"{args.file}: valid")
    print(f"  inputs: {', '.join(report.pipeline_inputs) or '(none)'}")
    print(f"  required: {', '.join(report.required_inputs) or '(none)'}")
    print(f"  outputs: {', '.join(report.outputs) or '(none)'}")
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from .._analysis._graph import data_flow, render

    print(render(data_flow(_target(args.target)), args.format))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("compose", help="compose registered blocks and print the pipeline's doc")
    p.add_argument("names", nargs="+", help="registered block names, in order")
    p.add_argument("--save", metavar="FILE", help="also write a spec file (.toml or .json)")
    p.add_argument("--force", action="store_true", help="replace an existing --save file")
    p.set_defaults(handler=cmd_compose)

    p = sub.add_parser(
        "validate", help="check a spec file or a registered block; exit 1 with the problem list if invalid"
    )
    p.add_argument("file", metavar="FILE|NAME")
    p.set_defaults(handler=cmd_validate)

    from ._cli_run import add_run_parser

    add_run_parser(sub)

    p = sub.add_parser("graph", help="print the data flow as Mermaid or Graphviz dot")
    p.add_argument("target")
    p.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    p.set_defaults(handler=cmd_graph)
