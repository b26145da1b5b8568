"""``diffblocks batch``: argparse wiring for :func:`diffblocks.batch.run`.

Exit status: 0 all rows ok, 1 some rows failed (summary on stderr), 2 usage or input-file errors
(one message, no traceback: ``diffblocks.cli.main`` prints them), 130 stopped by Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _shared(items: list[str] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: use --set name=value")
        try:
            values[key] = json.loads(text)  # as `diffblocks run --set`: JSON when it parses
        except ValueError:
            values[key] = text
    return values


def cmd_batch(args: argparse.Namespace) -> int:
    from ..batch import run

    summary = run(
        args.target,
        args.inputs,
        args.out,
        batch_size=args.batch_size,
        seed=args.seed,
        shared=_shared(args.set),
        device=args.device,
        ray=args.ray,
        workers=args.workers,
    )
    print(f"diffblocks batch: {summary.text()}", file=sys.stderr)
    return summary.exit_code


def add_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "batch",
        help="generate images for every row of a JSONL/CSV/Parquet file (resumable; --ray for Ray Data)",
        description="Run a spec file or registered block once per input row, batching compatible rows. "
        "Writes OUT/images/<id>.png, OUT/manifest.jsonl and OUT/run.json; running again resumes.",
    )
    p.add_argument("target", help="a spec file (.toml/.json) or a registered block name")
    p.add_argument("--inputs", required=True, metavar="FILE", help="rows of inputs: .jsonl, .csv or .parquet")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created; reused to resume)")
    p.add_argument("--batch-size", type=int, default=16, metavar="N", help="rows per pipeline call (16)")
    p.add_argument("--seed", type=int, default=0, help="seed of row 0; row i gets S+i unless it has a seed")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="an input shared by all rows (JSON or text)"
    )
    p.add_argument("--device", help="device for models and generators, e.g. cuda")
    p.add_argument(
        "--ray",
        nargs="?",
        const=True,
        default=False,
        metavar="ADDRESS",
        help="run on Ray Data: a local cluster, or the one at ADDRESS (pip install 'diffblocks[ray]')",
    )
    p.add_argument(
        "--workers", type=int, metavar="N", help="Ray workers (default: one per GPU, else per CPU)"
    )
    p.set_defaults(handler=cmd_batch)
