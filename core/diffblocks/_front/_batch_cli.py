"""``diffblocks batch``: argparse wiring for :func:`diffblocks.batch.run`.

Exit status: 0 all rows ok, 1 some rows failed (summary on stderr), 2 usage or input-file errors
(one message, no traceback: ``diffblocks.cli.main`` prints them), 130 stopped by Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys


def cmd_batch(args: argparse.Namespace) -> int:
    from ..batch import run
    from ._cli_run import check_device, check_seed, check_values, parse_sets

    # the same checks as `diffblocks run`, before any file is read or model loaded
    check_seed(args.seed)
    shared = parse_sets(args.set or [], output_flag=None)
    check_values(shared, {k: f"--set {k}" for k in shared})
    if args.device is not None:
        check_device(args.device)
    summary = run(
        args.target,
        args.inputs,
        args.out,
        batch_size=args.batch_size,
        seed=args.seed,
        shared=shared,
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
    p.add_argument(
        "--seed", type=int, default=0, help="seed of row 0 (0 to 2**64-1); row i gets S+i unless it has one"
    )
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
