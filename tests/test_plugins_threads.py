"""First use of the registry from several threads at once: every thread sees every plugin's
blocks, each plugin loads once, and sys.stdout is what it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from diffblocks import Registry, use_registry
from diffblocks.testing import write_distribution

THREADS = 8

# Run in a fresh process: the default registry's first use is what races.
FIRST_USE = f"""
import json, sys, threading
import diffblocks

original = sys.stdout
barrier = threading.Barrier({THREADS})
results = []

def first_use():
    barrier.wait()
    try:
        results.append(type(diffblocks.get_block("example.arith")).__name__)
    except Exception as exc:
        results.append(f"{{type(exc).__name__}}: {{exc}}")

threads = [threading.Thread(target=first_use) for _ in range({THREADS})]
for t in threads:
    t.start()
for t in threads:
    t.join()
status = {{p.distribution: p.status.value for p in diffblocks.list_plugins()}}
# printed to sys.stdout as it is now: if it pointed at stderr, stdout would stay empty
print(json.dumps({{"results": results, "stdout_restored": sys.stdout is original, "status": status}}))
"""


def test_concurrent_first_use_of_the_default_registry_in_a_fresh_process():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIFFBLOCKS_")}
    env["DIFFBLOCKS_PLUGINS"] = "diffblocks-example"
    for _ in range(3):  # a race: a few fresh processes
        proc = subprocess.run(
            [sys.executable, "-c", FIRST_USE], capture_output=True, text=True, env=env, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        assert report["results"] == ["Arithmetic"] * THREADS
        assert report["stdout_restored"]
        assert report["status"]["diffblocks-example"] == "loaded"


SLOW_HOOKS = """
import time
print("chatter from the hook module")
time.sleep(0.2)  # keeps the first loader busy while the other threads arrive
from diffblocks import hookimpl

@hookimpl
def register_blocks(registry):
    print("chatter from the hook")
    registry.register("good.hooked", "good_threads.blocks:Shift")
"""

SLOW_BLOCK = """
import time
print("chatter from {name}")
time.sleep(0.2)  # two of these imported at once overlap their stdout redirections
from diffblocks import InputParam, OutputParam, PipelineBlock

class Shift(PipelineBlock):
    @property
    def intermediate_inputs(self):
        return [InputParam("x", required=True)]
    @property
    def intermediate_outputs(self):
        return [OutputParam("x")]
    def __call__(self, components, state):
        bs = self.get_block_state(state)
        bs.x = bs.x + {amount}
        self.set_block_state(state, bs)
        return components, state
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DIFFBLOCKS_PLUGINS", "good-threads")
    monkeypatch.delenv("DIFFBLOCKS_STRICT_PLUGINS", raising=False)
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith("good_threads")]:
        del sys.modules[mod]


def test_concurrent_first_use_of_a_fresh_registry_loads_once_and_keeps_stdout(site, capsys):
    write_distribution(
        site,
        "good-threads",
        hooks={"threads": "good_threads.hooks"},
        blocks={"good.one": "good_threads.one:Shift", "good.two": "good_threads.two:Shift"},
        files={
            "good_threads/__init__.py": "",
            "good_threads/hooks.py": SLOW_HOOKS,
            "good_threads/blocks.py": SLOW_BLOCK.format(name="blocks", amount=100),
            "good_threads/one.py": SLOW_BLOCK.format(name="one", amount=1),
            "good_threads/two.py": SLOW_BLOCK.format(name="two", amount=2),
        },
    )
    registry = Registry()
    original = sys.stdout
    names = ["good.one", "good.two", "good.hooked"]
    barrier = threading.Barrier(THREADS)
    results: dict[int, object] = {}

    def first_use(i: int) -> None:
        barrier.wait()
        try:
            name = names[i % len(names)]
            results[i] = (name, registry.get_block(name).init_pipeline()(x=0, output="x"))
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=first_use, args=(i,)) for i in range(THREADS)]
    with use_registry(registry):  # the only registry: a default one would load the plugin again
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    expected = {"good.one": 1, "good.two": 2, "good.hooked": 100}
    assert results == {i: (names[i % 3], expected[names[i % 3]]) for i in range(THREADS)}
    assert sys.stdout is original
    (info,) = [p for p in registry.list_plugins() if p.distribution == "good-threads"]
    assert info.status == "loaded"
    out, err = capsys.readouterr()
    assert "chatter" not in out
    # each module imported once, the hook called once
    chatter = sorted(line for line in err.splitlines() if line.startswith("chatter"))
    assert chatter == [f"chatter from {n}" for n in ("blocks", "one", "the hook", "the hook module", "two")]


# A module whose import uses the registry, imported by one thread while another thread loads a
# lazy block target from it: holding a registry lock around the import deadlocked the two.
IMPORT_WHILE_LOADING = """
import sys, threading, time
sys.path.insert(0, {folder!r})
import diffblocks
from diffblocks import Registry, use_registry

reg = Registry(autoload=False)
reg.register("x.blk", "slow_block_module:Blk")  # imported on first load()
with use_registry(reg):
    importer = threading.Thread(target=lambda: __import__("slow_block_module"), daemon=True)
    importer.start()
    time.sleep(0.3)  # the importer now holds the module's import lock
    loader = threading.Thread(target=lambda: reg.load("x.blk"), daemon=True)
    loader.start()
    importer.join(20)
    loader.join(20)
    print("deadlocked" if importer.is_alive() or loader.is_alive() else "finished")
"""

SLOW_BLOCK_MODULE = """
import time
time.sleep(1.0)
import diffblocks
diffblocks.registry.block_names()  # an import-time registry use, which plugins may make
from diffblocks import PipelineBlock

class Blk(PipelineBlock):
    def __call__(self, components, state):
        return components, state
"""


def test_importing_a_block_module_while_another_thread_loads_it_does_not_deadlock(tmp_path):
    (tmp_path / "slow_block_module.py").write_text(SLOW_BLOCK_MODULE)
    code = IMPORT_WHILE_LOADING.format(folder=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "finished"
