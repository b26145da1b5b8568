"""``diffblocks doctor``: load each enabled plugin once, alone, in a subprocess, and report.

The calling process only reads entry-point metadata (it imports no plugin); a disabled or
incompatible plugin is never imported. Each subprocess loads one plugin with the real loading
code (``DIFFBLOCKS_PLUGINS=<distribution>``), imports its static block targets, and writes a
JSON report to a file (not stdout, which plugin code may write to).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ._claims import BlockEntry, Claim, Claims, ClaimTable, Stage
from ._discovery import ENV_PLUGINS, ENV_STRICT, PluginInfo, PluginStatus, discover, unmatched_filter_names

_PROBE = (
    "import sys; from diffblocks._plugins._doctor import probe_main; probe_main(sys.argv[1], sys.argv[2])"
)


def probe(distribution: str) -> dict[str, Any]:
    """Load ``distribution`` (the only plugin enabled) and import its static targets."""
    from ._loading import describe, import_plugin_target
    from ._registry import get_registry

    before = set(sys.modules)
    start = time.perf_counter()
    registry = get_registry()
    info = next((p for p in registry.list_plugins() if p.distribution == distribution), None)
    if info is None:
        return {"status": "failed", "error": "not found", "errors": [], "seconds": 0.0, "torch": False}
    errors = []
    mine = [e for e in registry.claims.blocks if e.distribution == distribution]
    for entry in mine:
        if entry.target and not entry.imported:
            try:
                import_plugin_target(entry.target, f"block {entry.name!r} from {distribution}")
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                errors.append(f"{entry.target}: {describe(exc)}")
    return {
        "status": PluginStatus(info.status).value,
        "error": info.error,
        "errors": errors,
        "seconds": time.perf_counter() - start,
        "torch": "torch" in sys.modules and "torch" not in before,
        "blocks": [[e.name, e.override] for e in mine],
        "families": [
            [c.name, c.override] for c in registry.claims.families if c.distribution == distribution
        ],
        "loaders": [[c.name, c.override] for c in registry.claims.loaders if c.distribution == distribution],
    }


def probe_main(distribution: str, out: str) -> None:
    result = probe(distribution)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh)


def _run_probe(info: PluginInfo) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != ENV_STRICT}
    env[ENV_PLUGINS] = info.distribution
    fd, out = tempfile.mkstemp(prefix="diffblocks-doctor-", suffix=".json")
    os.close(fd)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, info.distribution, out],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        try:
            with open(out, encoding="utf-8") as fh:
                result: dict[str, Any] = json.load(fh)
        except ValueError:  # nothing written: the process died (os._exit, a crash)
            last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            result = {"status": "failed", "error": f"the check crashed: {last}", "errors": []}
        return result
    finally:
        os.unlink(out)


def check(progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Every plugin's row, every contested name, and a summary drawn from the rows."""
    from .._model._version import __version__

    plugins = discover(__version__)
    todo = [p for p in plugins if p.status is PluginStatus.PENDING]
    results: dict[str, dict[str, Any]] = {}
    # one at a time: import times measured side by side would measure each other
    for done, info in enumerate(todo, 1):
        progress(f"[{done}/{len(todo)}] loading {info.distribution} alone in a subprocess ...")
        results[info.distribution] = _run_probe(info)
    claims, rows = Claims(), []
    for info in plugins:
        result = results.get(
            info.distribution, {"status": PluginStatus(info.status).value, "error": info.error}
        )
        stage = Stage(info.distribution, info.version)
        stage.blocks = [
            BlockEntry(n, info.distribution, info.version, None, override=o)
            for n, o in result.get("blocks", [])
        ]
        stage.families = [
            Claim(n, info.distribution, info.version, None, o) for n, o in result.get("families", [])
        ]
        stage.loaders = [
            Claim(n, info.distribution, info.version, None, o) for n, o in result.get("loaders", [])
        ]
        claims.commit(stage)
        problems = list(result.get("errors", []))
        if result["status"] in ("failed", "incompatible") and result.get("error"):
            problems.insert(0, result["error"])
        probed = info.distribution in results
        rows.append(
            {
                "distribution": info.distribution,
                "version": info.version,
                "status": result["status"],
                "import_ms": f"{result.get('seconds', 0.0) * 1000:.1f}" if probed else None,
                "imports_torch": ("yes" if result.get("torch") else "no") if probed else None,
                "problems": "; ".join(problems),
            }
        )
    tables: dict[str, ClaimTable[Any]] = {
        "block": claims.blocks,
        "family": claims.families,
        "loader": claims.loaders,
    }
    conflicts = {
        kind: {name: sorted(c.distribution for c in cs) for name, cs in table.contested().items()}
        for kind, table in tables.items()
    }
    unresolved = [f"{table.kind} {name!r}" for table in tables.values() for name in table.unresolved()]
    statuses = [r["status"] for r in rows]
    summary = {
        "plugins": len(rows),
        **{s.value: statuses.count(s.value) for s in PluginStatus if s is not PluginStatus.PENDING},
        "with_problems": sum(bool(r["problems"]) for r in rows),
        "unresolved_conflicts": len(unresolved),
    }
    # a DIFFBLOCKS_PLUGINS item naming nothing installed is a problem: a typo in "a,b" leaves
    # out the plugin it meant, and one in "-a" loads the plugin it meant to leave out
    notes = unmatched_filter_names(plugins)
    return {
        "plugins": rows,
        "conflicts": conflicts["block"],
        "family_conflicts": conflicts["family"],
        "loader_conflicts": conflicts["loader"],
        "unresolved": unresolved,
        "notes": notes,
        "summary": summary,
        "ok": not summary["with_problems"] and not unresolved and not notes,
    }
