"""``diffblocks.batch.run``: a file of inputs to a folder of images, embedded or on Ray Data."""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._front._cli_output import check_number
from .._front._rows import (
    InputRules,
    Row,
    RowInputError,
    RowResult,
    RowRunner,
    load_blocks,
    make_pipeline,
    seed_problem,
)
from ._inputs import read_rows
from ._output import Manifest, prepare_out, record_for, write_images


@dataclass
class BatchSummary:
    """What a batch did. ``exit_code``: 0 all rows ok, 1 some failed, 130 stopped by Ctrl-C."""

    out: Path
    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    #: of ``seconds``, the time spent composing the blocks and (embedded) building the pipeline
    load_seconds: float = 0.0
    interrupted: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 130 if self.interrupted else 1 if self.failed else 0

    def text(self) -> str:
        ran = self.ok + self.failed
        rate = f", {ran / self.seconds:.2f} rows/s" if self.seconds > 0 and ran else ""
        lines = [
            f"{self.total} rows: {self.ok} ok, {self.failed} failed, {self.skipped} already done "
            f"(resumed) in {self.seconds:.1f} s{rate}"
        ]
        if self.interrupted:
            lines.append("stopped by Ctrl-C after the batch in flight; run the same command again to go on")
        for row_id, error in self.failures[:5]:
            lines.append(f"  failed {row_id}: {error}")
        if len(self.failures) > 5:
            lines.append(f"  ... and {len(self.failures) - 5} more")
        if self.failures:
            lines.append(f"see {self.out / 'manifest.jsonl'}")
        return "\n".join(lines)


class _Progress:
    """A tqdm bar (rows, with rows/s) on a terminal; nothing in pipes or with DIFFBLOCKS_PROGRESS=0."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        if enabled is None:
            enabled = os.environ.get("DIFFBLOCKS_PROGRESS", "1") != "0" and sys.stderr.isatty()
        self.bar: Any = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, unit="row", desc="diffblocks batch", dynamic_ncols=True)
            except ImportError:
                pass

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _StopOnCtrlC:
    """The first Ctrl-C asks to stop after the batch in flight; a second one interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopOnCtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
        print(
            "\ndiffblocks batch: stopping after the batch in flight (Ctrl-C again to abort now)",
            file=sys.stderr,
            flush=True,
        )

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def run(
    target: str,
    inputs: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    out: str | os.PathLike[str],
    *,
    batch_size: int = 16,
    seed: int = 0,
    shared: Mapping[str, Any] | None = None,
    device: str | None = None,
    ray: bool | str = False,
    workers: int | None = None,
    progress: bool | None = None,
) -> BatchSummary:
    """Generate images for every row of ``inputs`` into ``out``.

    Args:
        target: a registered block name (``"shapes.text2img"``) or a spec file.
        inputs: a ``.jsonl``, ``.csv`` or ``.parquet`` file, or dicts of inputs. A row may hold
            ``id`` (names its files) and ``seed``; otherwise the id is the zero-padded row index
            and the seed is ``seed`` plus the row index.
        out: the output folder: ``images/``, ``manifest.jsonl``, ``run.json``. Rows already ok
            there (same inputs and seed) are skipped, so running again resumes.
        batch_size: at most this many compatible rows per pipeline call.
        shared: inputs for every row (a row's own values win).
        device: where the models and generators go (``"cuda"``); default the CPU.
        ray: ``False`` runs here; ``True`` runs on Ray Data (the connected cluster, or a local
            one); a string is a cluster address.
        workers: Ray workers (default: one per GPU, else CPUs divided by torch's threads).
        progress: a progress bar; ``None`` shows one when stderr is a terminal.
    """
    if batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {batch_size}")
    problem = seed_problem(seed)
    if problem is not None:
        raise ValueError(f"--seed {seed}: {problem}")
    start = time.perf_counter()
    out_dir = Path(out)
    blocks, source = load_blocks(target)
    composed = time.perf_counter() - start
    rules = InputRules.from_blocks(blocks)
    for name in ("id", "seed"):
        if name in (shared or {}):
            raise ValueError(f"--set {name}=...: {name} is per row; give it in the input file (or --seed S)")
    for name, value in (shared or {}).items():
        check_number(value, f"--set {name}")  # a ValueError: NaN/Infinity are not JSON
    if shared:
        try:
            rules.check(shared, complete=False)
        except RowInputError as exc:
            raise ValueError(f"--set: {exc}") from None
    rows = read_rows(inputs, rules=rules, seed=seed, shared=shared)
    if ray is not False:
        from ._ray import ray_client

        ray_client(None if ray is True else str(ray))  # fails early and clearly without Ray
    settings = {"target": target, "batch_size": batch_size, "seed": seed, "shared": dict(shared or {})}
    prepare_out(out_dir, source, {**settings, "device": device, "ray": ray})
    manifest = Manifest(out_dir)
    done = manifest.done(rows)
    todo = [row for row in rows if row.id not in done]
    summary = BatchSummary(out_dir, total=len(rows), skipped=len(done), load_seconds=composed)
    writer = _Writer(out_dir, source, manifest, summary, _Progress(len(todo), progress), depth=2 * batch_size)
    try:
        with _StopOnCtrlC() as stop:
            if ray is False:
                results = _embedded(blocks, todo, batch_size, device, stop, summary)
            else:
                from ._ray import run_on_ray

                results = run_on_ray(target, todo, out_dir, rules, batch_size, device, workers, stop)
            for result, files in results:
                writer.put(result, files)
            summary.interrupted = stop.requested
    finally:
        writer.close()  # every finished row is written and recorded, even on an error
    summary.seconds = time.perf_counter() - start
    return summary


def _embedded(
    blocks: Any,
    rows: list[Row],
    batch_size: int,
    device: str | None,
    stop: _StopOnCtrlC,
    summary: BatchSummary,
) -> Iterator[tuple[RowResult, list[str] | None]]:
    """Results as each batch finishes; a row that fails its checks costs no compute."""
    if not rows:
        return
    start = time.perf_counter()
    runner = RowRunner(make_pipeline(blocks, device), device=device, max_batch_size=batch_size)
    summary.load_seconds += time.perf_counter() - start
    good = []
    for row in rows:
        problem = runner.check(row)
        if problem is None:
            good.append(row)
        else:
            yield RowResult(row, error=problem), None
    for batch in runner.group(good):
        if stop.requested:
            return
        for result in runner.run_batch(batch):
            yield result, None


class _Writer:
    """Writes images and manifest records on a thread of its own, so that PNG encoding (which
    releases the GIL) overlaps the next batch's compute; records keep the order rows finish in."""

    def __init__(
        self,
        out: Path,
        source: Mapping[str, Any],
        manifest: Manifest,
        summary: BatchSummary,
        bar: _Progress,
        depth: int,
    ) -> None:
        self.out, self.source, self.manifest, self.summary, self.bar = out, source, manifest, summary, bar
        self.queue: queue.Queue[tuple[RowResult, list[str] | None] | None] = queue.Queue(
            maxsize=max(1, depth)
        )
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="diffblocks-batch-writer", daemon=True)
        self.thread.start()

    def put(self, result: RowResult, files: list[str] | None) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((result, files))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.bar.close()
        self.manifest.close()
        if self.error is not None:
            raise self.error

    def _work(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is not None:
                continue  # drain: the main thread raises it
            try:
                self._write(*item)
            except BaseException as exc:  # noqa: BLE001 - the manifest itself failed: stop the run
                self.error = exc

    def _write(self, result: RowResult, files: list[str] | None) -> None:
        if files is None and result.ok:
            try:
                files = write_images(self.out, result, self.source)
            except (OSError, TypeError, ValueError) as exc:
                result = RowResult(
                    result.row, error=f"writing its images failed: {exc}", seconds=result.seconds
                )
        self.manifest.append(record_for(result, files or []))
        if result.ok:
            self.summary.ok += 1
        else:
            self.summary.failed += 1
            self.summary.failures.append((result.row.id, result.error or "failed"))
        self.bar.update(1)
