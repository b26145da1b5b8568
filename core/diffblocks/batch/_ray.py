"""Batch generation on Ray Data: a callable class holding one pipeline per worker.

``ImageGenerator`` and ``map_images`` are for users' own Ray pipelines; ``run_on_ray`` is what
``diffblocks batch --ray`` does with them.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .._front._png import generation_record, png_bytes
from .._front._rows import InputRules, Row, RowInputError, RowResult, RowRunner, load_blocks, make_pipeline
from ._output import IMAGES, write_images

INSTALL_HINT = "pip install 'diffblocks[ray]'"


def ray_client(address: str | None = None) -> Any:
    """The ``ray`` module, connected: to ``address``, else the cluster already connected, else a
    new local one."""
    try:
        import ray
    except ImportError:
        raise ValueError(f"--ray needs Ray, which is not installed here: {INSTALL_HINT}") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR)
        except ConnectionError as exc:
            raise ValueError(f"--ray {address}: cannot connect to a Ray cluster there ({exc})") from None
    return ray


class ImageGenerator:
    """A Ray Data callable class: ``ds.map_batches(ImageGenerator, fn_constructor_kwargs=...)``.

    Each worker builds one pipeline (``target``: a block name or spec file) on ``device`` (default
    ``cuda`` when the worker has a GPU). Input rows hold pipeline inputs as columns, optionally an
    ``inputs_json`` column (a JSON object of inputs, under the columns' own values), ``seed``
    (unseeded rows get fresh noise) and ``id``. Output rows hold ``id``, ``status`` (``ok`` or
    ``failed``), ``error``, ``seed``, ``seconds``, ``inputs_json`` and either ``files`` (PNG paths
    relative to ``out_dir``, when given: it must be a folder every worker can write, and rows need an
    ``id``) or ``png`` (the PNG files' bytes). ``threads`` sets torch's CPU threads (Ray starts
    workers with one).
    """

    def __init__(
        self,
        target: str,
        out_dir: str | None = None,
        *,
        device: str | None = None,
        batch_size: int = 16,
        shared: Mapping[str, Any] | None = None,
        threads: int | None = None,
    ) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        if device is None and torch.cuda.is_available():
            device = "cuda"
        blocks, self.source = load_blocks(target)
        self.runner = RowRunner(make_pipeline(blocks, device), device=device, max_batch_size=batch_size)
        self.shared = dict(shared or {})
        self.out = Path(out_dir) if out_dir else None
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="diffblocks-png")
        if self.out is not None:
            (self.out / IMAGES).mkdir(parents=True, exist_ok=True)

    def _row(self, values: dict[str, Any]) -> Row:
        row_id, seed, extra = (
            values.pop("id", None),
            values.pop("seed", None),
            values.pop("inputs_json", None),
        )
        if row_id is None and self.out is not None:
            raise ValueError(
                "ImageGenerator: with out_dir, every row needs an 'id' column (it names the files)"
            )
        inputs = {**self.shared, **(json.loads(extra) if extra else {})}
        inputs.update({k: v for k, v in values.items() if v is not None})
        return Row("" if row_id is None else str(row_id), inputs, None if seed is None else int(seed))

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = [self._row(values) for values in batch.to_pylist()]
        columns: dict[str, list[Any]] = {
            k: [] for k in ("id", "status", "error", "seed", "seconds", "inputs_json")
        }
        outputs: list[list[Any]] = []
        results = self.runner.run(rows)
        # PNG encoding releases the GIL: a batch's images are encoded side by side, so the
        # accelerator waits less between batches
        for result, (payload, error) in zip(results, self._pool.map(self._store, results)):
            row = result.row
            columns["id"].append(row.id)
            columns["status"].append("ok" if error is None else "failed")
            columns["error"].append(error)
            columns["seed"].append(row.seed)
            columns["seconds"].append(result.seconds)
            columns["inputs_json"].append(json.dumps(row.inputs, default=repr))
            outputs.append(payload)
        # explicit types: a batch whose errors are all None must not make a null-typed column
        types = {"seed": pa.uint64(), "seconds": pa.float64()}  # seeds are 0 to 2**64 - 1
        table = pa.table({k: pa.array(v, type=types.get(k, pa.string())) for k, v in columns.items()})
        if self.out is not None:
            return table.append_column("files", pa.array(outputs, type=pa.list_(pa.string())))
        return table.append_column("png", pa.array(outputs, type=pa.list_(pa.binary())))

    def _store(self, result: RowResult) -> tuple[list[Any], str | None]:
        """(files or PNG bytes, error): a row's images written or encoded."""
        if not result.ok:
            return [], result.error
        try:
            if self.out is not None:
                return write_images(self.out, result, self.source), None
            row = result.row
            record = generation_record(inputs=row.inputs, seed=row.seed, extra={"id": row.id}, **self.source)
            return [png_bytes(image, record) for image in result.images], None
        except (OSError, TypeError, ValueError) as exc:
            return [], f"writing its images failed: {exc}"


def map_images(
    ds: Any,
    target: str,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    batch_size: int = 16,
    workers: int = 1,
    num_gpus: float = 0,
    num_cpus: float = 1,
    device: str | None = None,
    shared: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> Any:
    """``ds`` (rows of inputs) mapped to generation results by ``workers`` workers, each holding
    one pipeline (see :class:`ImageGenerator` for the columns). Give ``num_gpus=1`` for a GPU per
    worker. Lazy, like every Ray Data transform: iterate or write the result to run it."""
    kwargs = {
        "out_dir": os.fspath(out_dir) if out_dir is not None else None,
        "device": device,
        "batch_size": batch_size,
        "shared": dict(shared or {}),
        "threads": threads,
    }
    return ds.map_batches(
        ImageGenerator,
        fn_args=None,
        fn_constructor_args=(target,),
        fn_constructor_kwargs=kwargs,
        batch_size=batch_size,
        batch_format="pyarrow",
        concurrency=workers,
        num_gpus=num_gpus,
        num_cpus=num_cpus,
    )


def run_on_ray(
    target: str,
    rows: list[Row],
    out: Path,
    rules: InputRules,
    batch_size: int,
    device: str | None,
    workers: int | None,
    stop: Any,
) -> Iterator[tuple[RowResult, list[str] | None]]:
    """``diffblocks batch --ray``: check rows here, run the good ones on the cluster, yield results
    as they come back (the workers have written the images)."""
    if not rows:
        return
    import torch

    ray = ray_client()
    good = []
    for row in rows:
        try:
            rules.check(row.inputs)
        except RowInputError as exc:
            yield RowResult(row, error=str(exc)), None  # costs no worker time
        else:
            good.append(row)
    if not good:
        return
    # compatible rows next to each other, so that Ray's batches are whole pipeline calls
    first: dict[Any, int] = {}
    for row in good:
        first.setdefault(rules.key(row), len(first))
    good.sort(key=lambda row: first[rules.key(row)])
    # seeds go up to 2**64 - 1, past Arrow's int64: they travel as text (the worker reads int())
    items = [
        {"id": r.id, "seed": None if r.seed is None else str(r.seed), "inputs_json": json.dumps(r.inputs)}
        for r in good
    ]
    # our bar counts rows; Ray Data's bars and progress logs would interleave with it (a
    # dataset copies the context when it is created, so this comes first)
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ds = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / batch_size)))
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    threads = torch.get_num_threads()  # the embedded run's count: the same kernels, the same images
    if gpus:
        count, num_gpus = workers or gpus, 1
    else:
        count, num_gpus = workers or max(1, int(resources.get("CPU", 1)) // threads), 0
    mapped = map_images(
        ds,
        target,
        out,
        batch_size=batch_size,
        workers=count,
        num_gpus=num_gpus,
        device=device,
        threads=threads,
    )
    by_id = {row.id: row for row in good}
    for record in mapped.iter_rows():
        row = by_id[record["id"]]
        result = RowResult(row, error=record["error"], seconds=float(record["seconds"]))
        yield result, list(record["files"] or [])
        if stop.requested:
            return  # the rest runs again on resume
