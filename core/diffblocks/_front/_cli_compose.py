"""CLI commands of the composition layer: compose, validate, run, graph."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .._model._errors import CompositionError, Problem


def _target(target: str) -> Any:
    """A spec file path or a registered block name, as composed blocks."""
    from .._compose._compose import compose
    from .._compose._specfile import load_spec

    if target.lower().endswith((".toml", ".json")) or os.sep in target:
        if not Path(target).exists():
            raise CompositionError([Problem("no-such-file", "", None, f"{target!r} does not exist")], target)
        return load_spec(target)
    return compose(target)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_compose(args: argparse.Namespace) -> int:
    from .._compose._compose import compose
    from .._compose._specfile import save_spec

    blocks = compose(list(args.names) if len(args.names) > 1 else args.names[0])
    print(blocks.doc)
    if args.save:
        print(f"\nsaved spec to {save_spec(blocks, args.save)}", file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .._compose._specfile import load_spec

    try:
        report = load_spec(args.file).validate()
    except CompositionError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"{args.file}: valid")
    print(f"  inputs: {', '.join(report.pipeline_inputs) or '(none)'}")
    print(f"  required: {', '.join(report.required_inputs) or '(none)'}")
    print(f"  outputs: {', '.join(report.outputs) or '(none)'}")
    return 0


def _save(value: Any, path: str) -> str:
    target = Path(path).resolve()
    images = value if isinstance(value, (list, tuple)) else [value]
    if images and all(hasattr(im, "save") and hasattr(im, "size") for im in images):
        if len(images) == 1:
            images[0].save(target)
            return str(target)
        written = []
        for i, im in enumerate(images):
            name = target.with_name(f"{target.stem}_{i}{target.suffix or '.png'}")
            im.save(name)
            written.append(str(name))
        return ", ".join(written)
    target.write_text(json.dumps(value, indent=2, default=repr) + "\n")
    return str(target)


def cmd_run(args: argparse.Namespace) -> int:
    blocks = _target(args.target)
    pipe = blocks.init_pipeline()
    pipe.load_default_components()
    values: dict[str, Any] = {}
    for item in args.set or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: use --set name=value")
        values[key] = _parse_value(text)
    accepted = pipe.accepted_inputs()
    if args.device:
        pipe.to(args.device)
        if "device" in accepted:
            values.setdefault("device", args.device)
    if args.seed is not None:
        if "generator" in accepted:
            import torch

            values.setdefault("generator", torch.Generator(args.device or "cpu").manual_seed(args.seed))
        elif "seed" in accepted:
            values.setdefault("seed", args.seed)
        else:
            raise ValueError("--seed: this pipeline takes neither a 'generator' nor a 'seed' input")
    state = pipe(**values)
    outputs = blocks.output_names
    name = args.output or ("images" if "images" in outputs else outputs[-1] if outputs else None)
    value = state.get(name) if name else None
    if args.out:
        if name is None:
            raise ValueError("--out: the pipeline produced no output")
        print(f"wrote {name} to {_save(value, args.out)}", file=sys.stderr)
    if args.output or not args.out:
        try:
            print(json.dumps(value))
        except (TypeError, ValueError):
            print(repr(value))
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from .._analysis._graph import data_flow, render

    print(render(data_flow(_target(args.target)), args.format))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("compose", help="compose registered blocks and print the pipeline's doc")
    p.add_argument("names", nargs="+", help="registered block names, in order")
    p.add_argument("--save", metavar="FILE", help="also write a spec file (.toml or .json)")
    p.set_defaults(handler=cmd_compose)

    p = sub.add_parser("validate", help="check a spec file; exit 1 with the problem list if invalid")
    p.add_argument("file")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("run", help="run a spec file or a registered block")
    p.add_argument("target", help="a spec file (.toml/.json) or a registered block name")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="an input; VALUE is JSON when it parses, else a string",
    )
    p.add_argument("--seed", type=int, help="seed for the pipeline's generator")
    p.add_argument("--output", metavar="NAME", help="print this value (JSON when it serializes, else repr)")
    p.add_argument("--out", metavar="FILE", help="save the output: images as PNG, other values as JSON")
    p.add_argument("--device", help="device for models and generator, e.g. cuda")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("graph", help="print the data flow as Mermaid or Graphviz dot")
    p.add_argument("target")
    p.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    p.set_defaults(handler=cmd_graph)
