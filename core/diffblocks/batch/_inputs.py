"""Reading a batch's input file (JSONL, CSV or Parquet) into rows, with errors that name the line."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .._front._cli_output import UsageError, check_number
from .._front._rows import SEED_MAX, InputRules, Row, admits_str, seed_problem

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: An id names files, so it stays a plain file name on every system.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: Ids made from the row index are zero-padded to at least this many digits, so they sort and do
#: not change when the file grows (resume matches rows by id).
MIN_ID_DIGITS = 5


class InputFileError(ValueError):
    """The input file cannot be read as rows; the message names the file and line."""


def _records_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
            if not isinstance(value, dict):
                raise InputFileError(
                    f"{path} line {number}: expected a JSON object of inputs, got {type(value).__name__}"
                )
            yield f"line {number}", value


def _cell(text: str, name: str, rules: InputRules | None) -> Any:
    # CSV cells are text: inputs that take text keep it (a prompt "42" stays "42"), the others
    # are read as JSON when they parse (20 -> int, 4.5 -> float, true -> bool)
    if name == "id" or (rules is not None and name in rules.hints and admits_str(rules.hints[name])):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _records_csv(path: Path, rules: InputRules | None) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip() for h in header]
        if not all(names) or len(set(names)) != len(names):
            raise InputFileError(
                f"{path} line 1: the header needs distinct, non-empty column names: {header}"
            )
        for cells in reader:
            where = f"line {reader.line_num}"
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(names):
                raise InputFileError(
                    f"{path} {where}: {len(cells)} cells, but the header has {len(names)} columns"
                )
            # an empty cell means "not given" (the pipeline's default applies)
            yield where, {n: _cell(c, n, rules) for n, c in zip(names, cells) if c != ""}


def _records_parquet(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputFileError(
            f"{path}: reading Parquet needs pyarrow: pip install 'diffblocks[parquet]'"
        ) from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a bad file
        raise InputFileError(f"{path}: not a readable Parquet file ({exc})") from None
    for number, record in enumerate(table.to_pylist(), 1):
        yield f"row {number}", {k: v for k, v in record.items() if v is not None}


def read_records(
    path: str | os.PathLike[str], rules: InputRules | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """(where, record) for every row of an input file; the format comes from the extension."""
    source = Path(path)
    fmt = FORMATS.get(source.suffix.lower())
    if fmt is None:
        raise InputFileError(f"{source}: unknown input format; use .jsonl, .csv or .parquet")
    if not source.is_file():
        raise InputFileError(f"{source}: no such file")
    if fmt == "jsonl":
        return list(_records_jsonl(source))
    if fmt == "csv":
        return list(_records_csv(source, rules))
    return list(_records_parquet(source))


def make_rows(
    records: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    seed: int = 0,
    shared: Mapping[str, Any] | None = None,
    source: str = "inputs",
) -> list[Row]:
    """Rows from records: ``id`` defaults to the zero-padded row index, ``seed`` to ``seed`` plus
    the row index; ``shared`` values go under each row's own."""
    records = list(records)
    width = max(MIN_ID_DIGITS, len(str(len(records) - 1)))
    rows: list[Row] = []
    first_seen: dict[str, str] = {}
    for index, (where, record) in enumerate(records):
        inputs = dict(record)
        row_id = inputs.pop("id", None)
        if row_id is None:
            row_id = str(index).zfill(width)
        elif isinstance(row_id, bool) or not isinstance(row_id, (str, int)):
            raise InputFileError(f"{source} {where}: 'id' must be text or a whole number, got {row_id!r}")
        row_id = str(row_id)
        if not ID_PATTERN.fullmatch(row_id):
            raise InputFileError(
                f"{source} {where}: id {row_id!r} cannot name a file; use letters, digits, '.', '_' "
                f"and '-' (at most 128, not starting with '.' or '-')"
            )
        if row_id in first_seen:
            raise InputFileError(
                f"{source} {where}: id {row_id!r} is already used on {first_seen[row_id]}; ids must be unique"
            )
        first_seen[row_id] = where
        row_seed = inputs.pop("seed", None)
        if row_seed is None:
            row_seed = seed + index
            if row_seed > SEED_MAX:  # the value came from --seed, not from the file
                raise ValueError(
                    f"--seed {seed}: {source} {where} would get seed {row_seed}, past 2**64 - 1 "
                    f"({SEED_MAX}); give a smaller --seed or a 'seed' per row"
                )
        elif isinstance(row_seed, str) and re.fullmatch(r"-?\d+", row_seed.strip()):
            row_seed = int(row_seed)
        problem = seed_problem(row_seed)
        if problem is not None:
            raise InputFileError(f"{source} {where}: 'seed': {problem}")
        for name, value in inputs.items():
            try:
                check_number(value, f"{source} {where}: {name!r}")
            except UsageError as exc:  # NaN/Infinity would also make the manifest invalid JSON
                raise InputFileError(str(exc)) from None
        rows.append(Row(row_id, {**(shared or {}), **inputs}, row_seed))
    return rows


def read_rows(
    inputs: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    *,
    rules: InputRules | None = None,
    seed: int = 0,
    shared: Mapping[str, Any] | None = None,
) -> list[Row]:
    """Rows from an input file, or from dicts (the Python API), numbered as the file's rows."""
    if isinstance(inputs, (str, os.PathLike)):
        return make_rows(read_records(inputs, rules), seed=seed, shared=shared, source=os.fspath(inputs))
    records = []
    for number, record in enumerate(inputs, 1):
        if not isinstance(record, Mapping):
            raise InputFileError(
                f"inputs row {number}: expected a dict of inputs, got {type(record).__name__}"
            )
        records.append((f"row {number}", record))
    return make_rows(records, seed=seed, shared=shared)
