"""Discovery cost with 10, 100 and 500 generated plugin distributions.

Run: python benchmarks/discovery.py  (--smoke: 10 plugins, one repeat, to check that it runs)
For each size, in one process: `Registry().list_blocks()` against the bare
`importlib_metadata.entry_points(group="diffblocks.blocks")` scan of the same folder; then whole
commands (`diffblocks blocks list --json` against a python process doing only the bare scan, and
against an import-everything load, as pluggy's `load_setuptools_entrypoints` does: every
target module imported). Prints ratios to the bare scan
and checks that listing imported none of the modules behind the static entry points.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import timeit

from diffblocks.testing import write_distribution

BLOCK_SRC = "from diffblocks import PipelineBlock\nclass B(PipelineBlock):\n    pass\n"


def make_site(folder: str, n: int) -> None:
    for i in range(n):
        pkg = f"genplug{i}"
        write_distribution(
            folder,
            f"gen-plugin-{i}",
            "1.0",
            requires="diffblocks>=0.1",
            blocks={f"gen{i}.a": f"{pkg}.blocks:B", f"gen{i}.b": f"{pkg}.blocks:B"},
            files={f"{pkg}/__init__.py": "", f"{pkg}/blocks.py": BLOCK_SRC},
        )


def best(fn, number: int = 5, repeat: int = 5) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def command_seconds(args: list[str], env: dict[str, str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = timeit.default_timer()
        subprocess.run(args, env=env, check=True, capture_output=True)
        times.append(timeit.default_timer() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script, not the speed")
    smoke = parser.parse_args(argv).smoke
    sizes, repeat = ((10,), 1) if smoke else ((10, 100, 500), 5)
    import importlib_metadata
    from diffblocks import Registry

    exe = os.path.join(os.path.dirname(sys.executable), "diffblocks")
    print(
        f"{'plugins':>8} {'bare scan':>10} {'list_blocks':>12} {'ratio':>6} | {'bare cmd':>9} {'blocks list':>12} {'ratio':>6} | {'import all':>12} {'ratio':>6} | imports"
    )
    for n in sizes:
        with tempfile.TemporaryDirectory() as folder:
            make_site(folder, n)
            sys.path.insert(0, folder)
            try:
                bare = best(lambda: importlib_metadata.entry_points(group="diffblocks.blocks"), repeat=repeat)
                ours = best(lambda: Registry().list_blocks(), repeat=repeat)
                entries = Registry().list_blocks()
                assert sum(e.distribution.startswith("gen-plugin-") for e in entries) == 2 * n
                leaked = sorted(m for m in sys.modules if m.startswith("genplug"))
            finally:
                sys.path.remove(folder)
            env = {**os.environ, "PYTHONPATH": folder}
            bare_cmd = command_seconds(
                [
                    sys.executable,
                    "-c",
                    "import importlib_metadata as m; m.entry_points(group='diffblocks.blocks')",
                ],
                env,
                repeat,
            )
            ours_cmd = command_seconds([exe, "blocks", "list", "--json"], env, repeat)
            pluggy_cmd = command_seconds(
                [
                    sys.executable,
                    "-c",
                    "import importlib_metadata as m, pluggy\nfor ep in m.entry_points(group='diffblocks.blocks'): ep.load()",
                ],
                env,
                repeat,
            )
            print(
                f"{n:>8} {bare * 1e3:>8.1f}ms {ours * 1e3:>10.1f}ms {ours / bare:>5.2f}x | {bare_cmd * 1e3:>7.0f}ms {ours_cmd * 1e3:>10.0f}ms {ours_cmd / bare_cmd:>5.2f}x | {pluggy_cmd * 1e3:>10.0f}ms {pluggy_cmd / bare_cmd:>5.2f}x | {len(leaked)} modules"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
