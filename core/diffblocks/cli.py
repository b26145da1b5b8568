"""The ``diffblocks`` command line. User errors print one message (``--debug`` for tracebacks)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import DiffblocksError

Handler = Callable[[argparse.Namespace], int]


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[("-" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _registry() -> Any:
    from ._registry import get_registry

    return get_registry()


def cmd_plugins_list(args: argparse.Namespace) -> int:
    rows = [p.as_dict() for p in _registry().list_plugins()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(_table(rows, ["name", "distribution", "version", "status", "error"]))
    return 0


def cmd_blocks_list(args: argparse.Namespace) -> int:
    rows = [e.as_dict() for e in _registry().list_blocks()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            r["conflict"] = "CONFLICT" if r["conflict"] else ""
            r["imported"] = "yes" if r["imported"] else "no"
        print(_table(rows, ["name", "distribution", "version", "target", "imported", "conflict"]))
    return 0


def cmd_blocks_show(args: argparse.Namespace) -> int:
    reg = _registry()
    entry = reg.resolve(args.name)
    block = reg.get_block(args.name)
    print(
        f"{args.name}  (provided by {entry.distribution} {entry.version or ''}; target {entry.target})".rstrip()
    )
    print()
    print(block.doc)
    return 0


_DOCTOR_PROBE = r"""
import importlib, json, sys, time
targets = json.loads(sys.argv[1])
before = set(sys.modules)
out = []
for target in targets:
    module = target.split(":", 1)[0]
    start = time.perf_counter()
    try:
        obj = importlib.import_module(module)
        if ":" in target:
            for part in target.split(":", 1)[1].split("."):
                obj = getattr(obj, part)
        error = None
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
    out.append({"target": target, "seconds": time.perf_counter() - start, "error": error})
print(json.dumps({"results": out, "torch": "torch" in sys.modules and "torch" not in before}))
"""


def cmd_doctor(args: argparse.Namespace) -> int:
    # the registry's own scan: every plugin it found, disabled and incompatible ones included
    plugins = _registry().list_plugins()
    conflicts: dict[str, list[str]] = {}
    try:
        for entry in _registry().list_blocks():
            if entry.conflict:
                conflicts.setdefault(entry.name, []).append(entry.distribution)
    except DiffblocksError as exc:
        print(f"registry: {exc}")
    rows, problems = [], 0
    for info in plugins:
        targets = [t for _, t in info.hooks] + [t for _, t in info.blocks]
        proc = subprocess.run(
            [sys.executable, "-c", _DOCTOR_PROBE, json.dumps(targets)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "DIFFBLOCKS_PLUGINS": ""},
        )
        try:
            report = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            report = {
                "results": [
                    {
                        "target": "*",
                        "seconds": 0.0,
                        "error": (proc.stderr.strip().splitlines() or ["crashed"])[-1],
                    }
                ],
                "torch": False,
            }
        errors = [f"{r['target']}: {r['error']}" for r in report["results"] if r["error"]]
        problems += bool(errors)
        rows.append(
            {
                "distribution": info.distribution,
                "version": info.version,
                "status": info.status,
                "import_ms": f"{sum(r['seconds'] for r in report['results']) * 1000:.1f}",
                "imports_torch": "yes" if report["torch"] else "no",
                "problems": "; ".join(errors) or (info.error or ""),
            }
        )
    if args.json:
        print(json.dumps({"plugins": rows, "conflicts": conflicts}, indent=2))
        return 0
    print(_table(rows, ["distribution", "version", "status", "import_ms", "imports_torch", "problems"]))
    print()
    if conflicts:
        print("Name conflicts:")
        for name, dists in sorted(conflicts.items()):
            print(f"  {name}: claimed by {', '.join(dists)}")
    else:
        print("No name conflicts.")
    print(f"{len(plugins)} plugin(s) checked, {problems} with import problems.")
    return 0


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from ._scaffold import new_plugin

    root = new_plugin(args.name, args.dir)
    print(f"created {root}")
    print(f"next: pip install {root} && diffblocks blocks list && pytest {root / 'tests'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffblocks", description="Compose diffusion pipelines from blocks."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True)

    plugins = sub.add_parser("plugins", help="installed plugin distributions").add_subparsers(
        dest="action", required=True
    )
    p = plugins.add_parser("list", help="list plugins and their status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_plugins_list)

    blocks = sub.add_parser("blocks", help="registered blocks").add_subparsers(dest="action", required=True)
    p = blocks.add_parser("list", help="list every claim on every block name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_blocks_list)
    p = blocks.add_parser("show", help="show a block's doc")
    p.add_argument("name")
    p.set_defaults(handler=cmd_blocks_show)

    p = sub.add_parser("doctor", help="import every plugin in a subprocess and report problems")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_doctor)

    p = sub.add_parser("new-plugin", help="scaffold a plugin distribution (pyproject, a block, tests)")
    p.add_argument("name", help="plugin name, e.g. acme-blocks")
    p.add_argument("--dir", default=".", help="folder to create it in (default: here)")
    p.set_defaults(handler=cmd_new_plugin)

    from . import _cli_compose

    _cli_compose.add_commands(sub)
    __import__("diffblocks._front._batch_cli", fromlist=["*"]).add_command(sub)
    __import__("diffblocks._front._serve_cli", fromlist=["*"]).add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (DiffblocksError, ValueError, KeyError, FileNotFoundError, FileExistsError, TypeError) as exc:
        if args.debug:
            raise
        message = str(exc.args[0] if type(exc) is KeyError and exc.args else exc)  # KeyError quotes its text
        from ._errors import MissingComponentError, MissingInputError

        if isinstance(exc, MissingInputError):
            message += "\nOn the command line, give inputs as --set name=value."
        if isinstance(exc, MissingComponentError):
            message += (
                "\nOn the command line, run a spec file that says where each component lives:"
                '\n  [components.unet]\n  path = "/models/my-model"   (a local folder in diffusers layout)'
            )
        print(f"diffblocks: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
