"""The ``diffblocks`` command line. User errors print one message (``--debug`` for tracebacks)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import typing
from collections.abc import Sequence
from typing import Any

from ._model._errors import DiffblocksError


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[("-" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _registry() -> Any:
    from ._plugins._registry import get_registry

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


def cmd_doctor(args: argparse.Namespace) -> int:
    from ._plugins._doctor import check

    report = check(progress=lambda line: print(f"doctor: {line}", file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if report["ok"] else 1
    print(
        _table(
            report["plugins"], ["distribution", "version", "status", "import_ms", "imports_torch", "problems"]
        )
    )
    print()
    for key, title in (
        ("conflicts", "Name conflicts"),
        ("family_conflicts", "Model family conflicts"),
        ("loader_conflicts", "Component loader conflicts"),
    ):
        if report[key]:
            print(f"{title}:")
            for name, dists in report[key].items():
                print(f"  {name}: claimed by {', '.join(dists)}")
    if not report["unresolved"]:
        contested = any(report[k] for k in ("conflicts", "family_conflicts", "loader_conflicts"))
        print("Every conflict is settled by one override." if contested else "No name conflicts.")
    else:
        print("Unresolved (refused on use): " + ", ".join(report["unresolved"]))
    for note in report["notes"]:  # DIFFBLOCKS_PLUGINS items naming nothing installed: problems too
        print(f"Problem: {note}")
    s = report["summary"]
    unknown = f"; {len(report['notes'])} unknown DIFFBLOCKS_PLUGINS item(s)" if report["notes"] else ""
    print(
        f"{s['plugins']} plugin(s): {s['loaded']} loaded, {s['failed']} failed, {s['disabled']} disabled, "
        f"{s['incompatible']} incompatible; {s['with_problems']} with problems; "
        f"{s['unresolved_conflicts']} unresolved conflict(s){unknown}."
    )
    return 0 if report["ok"] else 1


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from ._front._scaffold import new_plugin

    root = new_plugin(args.name, args.dir)
    # "./name", not "name": pip would look a bare name up on the package index
    where = str(root) if root.is_absolute() or str(root).startswith(".") else os.path.join(".", root)
    print(f"created {root}")
    print(f"next: pip install {where} && diffblocks blocks list && pytest {os.path.join(where, 'tests')}")
    return 0


def _version() -> str:
    from ._model._version import __version__

    return __version__


class _Parser(argparse.ArgumentParser):
    """argparse's mistakes (a bad flag value, a missing argument) in the CLI's one-line form."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"diffblocks: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    # subcommand parsers are made by parser_class, which defaults to the parent's class
    parser = _Parser(prog="diffblocks", description="Compose diffusion pipelines from blocks.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--version", action="version", version=f"diffblocks {_version()}")
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

    p = sub.add_parser("doctor", help="load each enabled plugin alone in a subprocess and report problems")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_doctor)

    p = sub.add_parser("new-plugin", help="scaffold a plugin distribution (pyproject, a block, tests)")
    p.add_argument("name", help="plugin name, e.g. acme-blocks")
    p.add_argument("--dir", default=".", help="folder to create it in (default: here)")
    p.set_defaults(handler=cmd_new_plugin)

    # the command modules import their heavy libraries only when their command runs
    from ._front import _batch_cli, _cli_compose, _serve_cli

    _cli_compose.add_commands(sub)
    _batch_cli.add_command(sub)
    _serve_cli.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        # `diffblocks ... | head`: the reader has what it wanted; leave quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    # user errors: diffblocks' own, bad values (UsageError, input files, spec files are
    # ValueErrors) and files that cannot be read or written. Anything else (an AttributeError, a
    # TypeError from a wrong call) is a bug and keeps its traceback.
    except (DiffblocksError, ValueError, OSError) as exc:
        if args.debug:
            raise
        from ._front._cli_errors import cli_message

        print(f"diffblocks: error: {cli_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        if str(exc):  # e.g. which plugin was loading
            print(f"diffblocks: {exc}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
