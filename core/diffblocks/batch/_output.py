"""The output folder of a batch: ``images/``, ``manifest.jsonl`` (one record per row) and ``run.json``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from .._front._png import generation_record, save_png
from .._front._rows import Row, RowResult

MANIFEST = "manifest.jsonl"
RUN_FILE = "run.json"
IMAGES = "images"


def jsonable(value: Any) -> Any:
    """Inputs as they go into the manifest: what is not JSON becomes ``{"__repr__": type}``, as
    in the PNG records (a resumed row compares equal to its record only through this)."""
    # allow_nan=False: NaN/Infinity are not JSON; inputs are checked for them before any row runs
    return json.loads(json.dumps(value, default=lambda o: {"__repr__": type(o).__name__}, allow_nan=False))


def record_for(result: RowResult, files: list[str]) -> dict[str, Any]:
    row = result.row
    return {
        "id": row.id,
        "status": "ok" if result.ok else "failed",
        "files": files,
        "seed": row.seed,
        "inputs": jsonable(row.inputs),
        "error": result.error,
        "seconds": round(result.seconds, 4),
    }


def image_names(row_id: str, count: int) -> list[str]:
    """``images/<id>.png``, or ``images/<id>_<k>.png`` for each of several images."""
    if count == 1:
        return [f"{IMAGES}/{row_id}.png"]
    return [f"{IMAGES}/{row_id}_{k}.png" for k in range(count)]


def write_images(out: Path, result: RowResult, source: Mapping[str, Any]) -> list[str]:
    """Save a row's images as PNGs carrying inputs, seed and spec; paths relative to ``out``."""
    row = result.row
    names = image_names(row.id, len(result.images))
    record = generation_record(inputs=row.inputs, seed=row.seed, extra={"id": row.id}, **source)
    for name, image in zip(names, result.images):
        if not hasattr(image, "save"):
            raise TypeError(
                f"row {row.id!r}: the pipeline's output is {type(image).__name__}, not an image; "
                f"diffblocks batch writes PNG files"
            )
        save_png(image, out / name, record)
    return names


class Manifest:
    """``manifest.jsonl``: read for resuming, then appended and flushed as rows finish."""

    def __init__(self, out: Path) -> None:
        self.path = out / MANIFEST
        self._fh: IO[str] | None = None

    def records(self) -> dict[str, dict[str, Any]]:
        """The last record of every id (a line cut short by a crash is ignored)."""
        last: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("id"), str):
                    last[record["id"]] = record
        return last

    def done(self, rows: Iterable[Row]) -> set[str]:
        """Ids of rows already made: their last record is ok, for the same inputs and seed, and
        its files are there. Rewrites the manifest without the records of the other rows (they
        run again), so that every id keeps one line."""
        previous = self.records()
        done: set[str] = set()
        for row in rows:
            record = previous.get(row.id)
            if (
                record is not None
                and record.get("status") == "ok"
                and record.get("seed") == row.seed
                and record.get("inputs") == jsonable(row.inputs)
                and all((self.path.parent / f).is_file() for f in record.get("files", []))
            ):
                done.add(row.id)
        rerun = {row.id for row in rows} - done
        keep = [r for i, r in previous.items() if i not in rerun]
        if self.path.exists() and len(keep) != _line_count(self.path):
            tmp = self.path.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
            os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new manifest
        return done

    def append(self, record: Mapping[str, Any]) -> None:
        if self._fh is None:
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(json.dumps(record, allow_nan=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _line_count(path: Path) -> int:
    with path.open(encoding="utf-8") as fh:
        return sum(1 for _ in fh)


def prepare_out(out: Path, source: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """Create the folder and write ``run.json``; refuse a folder that holds another pipeline's run."""
    from .. import __version__
    from .._front._png import plugin_versions

    (out / IMAGES).mkdir(parents=True, exist_ok=True)
    run_file = out / RUN_FILE
    if run_file.exists():
        try:
            before = json.loads(run_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            before = {}
        if (before.get("block"), before.get("spec")) != (source.get("block"), jsonable(source.get("spec"))):
            what = before.get("block") or "a spec file"
            raise FileExistsError(
                f"{out} holds a batch of {what!r}, not of this pipeline; give another --out folder "
                f"(or delete {run_file} to reuse this one)"
            )
    run = {
        "block": source.get("block"),
        "spec": source.get("spec"),
        "diffblocks": __version__,
        "plugins": plugin_versions(),
        **settings,
    }
    tmp = run_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(jsonable(run), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, run_file)
