"""diffblocks batch, embedded: the shipped shapes model, real files, the real CLI.

Rows use 2 denoising steps to keep the suite quick; what is checked (same noise as
``diffblocks run``, batch-size independence, isolation of bad rows, resume) does not depend on it.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from diffblocks.batch import run
from diffblocks.cli import main
from PIL import Image

STEPS = 2
TOLERANCE = 2  # batched kernels round differently from one-row ones: at most 2/255 per value

ROWS = [
    {"prompt": "a red circle"},
    {"prompt": "a blue square"},
    {"prompt": "a red circle"},  # a duplicate prompt: its own seed, its own image
    {"prompt": "a green triangle", "seed": 11},
    {"prompt": "a green triangle", "seed": 11, "id": "same-seed"},  # same seed: the same image
    {"prompt": "a yellow square", "guidance_scale": 2.5},  # another compatibility key
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int16)


def manifest(out: Path) -> dict[str, dict]:
    lines = (out / "manifest.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len({r["id"] for r in records}) == len(records), "an id is recorded twice"
    return {r["id"]: r for r in records}


def assert_close(a: Path, b: Path) -> None:
    diff = np.abs(pixels(a) - pixels(b)).max()
    assert diff <= TOLERANCE, f"{a.name} vs {b.name}: max difference {diff}/255"


@pytest.fixture(scope="module")
def batched(tmp_path_factory):
    """The rows at batch size 1 and 4 (one module-wide run each)."""
    tmp = tmp_path_factory.mktemp("batched")
    inputs = write_jsonl(tmp / "rows.jsonl", ROWS)
    shared = {"num_inference_steps": STEPS}
    one = run("shapes.text2img", inputs, tmp / "bs1", batch_size=1, shared=shared, progress=False)
    four = run("shapes.text2img", inputs, tmp / "bs4", batch_size=4, shared=shared, progress=False)
    return tmp, one, four


def test_batch_sizes_give_the_same_images_and_ids_seeds_follow_the_rows(batched):
    tmp, one, four = batched
    assert (one.ok, one.failed, four.ok, four.failed) == (6, 0, 6, 0)
    records = manifest(tmp / "bs4")
    assert list(records) == ["00000", "00001", "00002", "00003", "same-seed", "00005"]
    assert [r["seed"] for r in records.values()] == [0, 1, 2, 11, 11, 5]
    for record in records.values():
        assert record["status"] == "ok" and record["error"] is None and record["seconds"] > 0
        assert record["inputs"]["num_inference_steps"] == STEPS
        (name,) = record["files"]
        assert_close(tmp / "bs1" / name, tmp / "bs4" / name)
    # duplicates: a repeated prompt with its own seed differs, the same seed gives the same image
    assert np.abs(pixels(tmp / "bs4/images/00000.png") - pixels(tmp / "bs4/images/00002.png")).max() > 50
    assert_close(tmp / "bs4/images/00003.png", tmp / "bs4/images/same-seed.png")


def test_each_row_matches_diffblocks_run_with_its_seed(batched, tmp_path):
    tmp, _, _ = batched
    records = manifest(tmp / "bs4")
    for row_id in ("00001", "00005"):
        record = records[row_id]
        sets = [a for k, v in record["inputs"].items() for a in ("--set", f"{k}={json.dumps(v)}")]
        target = tmp_path / f"{row_id}.png"
        assert (
            main(["run", "shapes.text2img", *sets, "--seed", str(record["seed"]), "--out", str(target)]) == 0
        )
        assert_close(target, tmp / "bs4" / record["files"][0])


def test_pngs_carry_inputs_seed_and_block(batched):
    from diffblocks._front._png import read_png_metadata

    tmp, _, _ = batched
    meta = read_png_metadata(tmp / "bs4/images/00001.png")
    assert meta is not None
    assert meta["block"] == "shapes.text2img" and meta["seed"] == 1
    assert meta["inputs"] == {"num_inference_steps": STEPS, "prompt": "a blue square"}
    run_json = json.loads((tmp / "bs4/run.json").read_text())
    assert run_json["block"] == "shapes.text2img" and run_json["batch_size"] == 4
    assert "diffblocks-shapes" in run_json["plugins"] and run_json["diffblocks"]


def test_several_images_per_row_match_the_single_run(tmp_path):
    rows = [{"prompt": p, "num_images_per_prompt": 2} for p in ("a red square", "a blue circle")]
    inputs = write_jsonl(tmp_path / "rows.jsonl", rows)
    summary = run(
        "shapes.text2img", inputs, tmp_path / "out", batch_size=2, shared={"num_inference_steps": STEPS}
    )
    assert summary.ok == 2
    record = manifest(tmp_path / "out")["00001"]
    assert record["files"] == ["images/00001_0.png", "images/00001_1.png"]
    single = tmp_path / "single.png"
    args = ["--set", "prompt=a blue circle", "--set", "num_images_per_prompt=2"]
    assert (
        main(
            [
                "run",
                "shapes.text2img",
                *args,
                "--set",
                f"num_inference_steps={STEPS}",
                "--seed",
                "1",
                "--out",
                str(single),
            ]
        )
        == 0
    )
    for k in (0, 1):
        assert_close(tmp_path / f"single_{k}.png", tmp_path / "out" / record["files"][k])


def test_bad_rows_fail_alone_and_cost_no_other_row_its_image(batched, tmp_path):
    tmp, _, _ = batched
    rows = [
        ROWS[0],
        {"prompt": "a purple circle"},  # a word the model does not know: fails inside the pipeline
        {"prompt": "a blue square", "seed": 1},  # as row 00001 of the module's run
        {"prompt": "a red circle", "num_inference_steps": "many"},  # wrong type: fails its checks
        {"prompt": "a red circle", "stepz": 3},  # unknown input
    ]
    inputs = write_jsonl(tmp_path / "rows.jsonl", rows)
    summary = run(
        "shapes.text2img", inputs, tmp_path / "out", batch_size=4, shared={"num_inference_steps": STEPS}
    )
    assert (summary.ok, summary.failed, summary.exit_code) == (2, 3, 1)
    records = manifest(tmp_path / "out")
    assert "purple" in records["00001"]["error"] and records["00001"]["files"] == []
    assert "'num_inference_steps' expects int, got str 'many'" in records["00003"]["error"]
    assert "unknown input 'stepz'" in records["00004"]["error"]
    assert {records[i]["status"] for i in ("00001", "00003", "00004")} == {"failed"}
    # the good rows of the failed batch were re-run alone: the same images as without the bad row
    assert_close(tmp_path / "out/images/00000.png", tmp / "bs4/images/00000.png")
    assert_close(tmp_path / "out/images/00002.png", tmp / "bs4/images/00001.png")


def test_resume_skips_ok_rows_reruns_the_rest_and_keeps_one_record_per_id(tmp_path):
    out = tmp_path / "out"
    shared = {"num_inference_steps": STEPS}
    first = write_jsonl(tmp_path / "first.jsonl", [{"prompt": "a red circle"}, {"prompt": "a purple square"}])
    assert run("shapes.text2img", first, out, shared=shared).failed == 1
    made = (out / "images/00000.png").stat().st_mtime_ns
    with (out / "manifest.jsonl").open("a") as fh:
        fh.write('{"id": "00002", "sta')  # a line cut short by a crash
    fixed = [{"prompt": "a red circle"}, {"prompt": "a blue square"}, {"prompt": "a green circle"}]
    again = run("shapes.text2img", write_jsonl(tmp_path / "fixed.jsonl", fixed), out, shared=shared)
    assert (again.skipped, again.ok, again.failed, again.exit_code) == (1, 2, 0, 0)
    assert (out / "images/00000.png").stat().st_mtime_ns == made  # not made again
    records = manifest(out)
    assert sorted(records) == ["00000", "00001", "00002"]
    assert all(r["status"] == "ok" for r in records.values())
    # the same command once more: nothing to do, nothing duplicated
    same = run("shapes.text2img", tmp_path / "fixed.jsonl", out, shared=shared)
    assert (same.skipped, same.ok, same.failed) == (3, 0, 0) and len(manifest(out)) == 3
    # a changed input (here the shared steps) makes the row again
    changed = run("shapes.text2img", tmp_path / "fixed.jsonl", out, shared={"num_inference_steps": 1})
    assert (changed.skipped, changed.ok) == (0, 3) and len(manifest(out)) == 3


def test_jsonl_csv_and_parquet_inputs_give_the_same_rows(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    rows = [
        {"id": "a", "prompt": "a red circle", "num_inference_steps": STEPS, "seed": 3},
        {"id": "b", "prompt": "a blue square", "num_inference_steps": STEPS, "guidance_scale": 2.0},
    ]
    write_jsonl(tmp_path / "rows.jsonl", rows)
    with (tmp_path / "rows.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["id", "prompt", "num_inference_steps", "seed", "guidance_scale"])
        writer.writeheader()
        writer.writerows(rows)  # the missing cells are empty: "not given"
    columns = ["id", "prompt", "num_inference_steps", "seed", "guidance_scale"]  # missing: null
    pq.write_table(pa.table({c: [r.get(c) for r in rows] for c in columns}), tmp_path / "rows.parquet")
    results = {}
    for ext in ("jsonl", "csv", "parquet"):
        summary = run("shapes.text2img", tmp_path / f"rows.{ext}", tmp_path / ext, batch_size=2)
        assert summary.ok == 2, summary.text()
        results[ext] = manifest(tmp_path / ext)
    for ext in ("csv", "parquet"):
        for key in ("a", "b"):
            assert results[ext][key]["inputs"] == results["jsonl"][key]["inputs"]
            assert results[ext][key]["seed"] == results["jsonl"][key]["seed"]
            assert (
                pixels(tmp_path / ext / f"images/{key}.png") == pixels(tmp_path / f"jsonl/images/{key}.png")
            ).all()
    assert results["jsonl"]["a"]["seed"] == 3 and results["jsonl"]["b"]["seed"] == 1


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (
            '{"prompt": "a red circle"}\n\n{"prompt": oops}\n',
            "rows.jsonl",
            "rows.jsonl line 3: not valid JSON",
        ),
        ('["a red circle"]\n', "rows.jsonl", "line 1: expected a JSON object of inputs, got list"),
        (
            '{"id": "x", "prompt": "a"}\n{"id": "x", "prompt": "b"}\n',
            "rows.jsonl",
            "line 2: id 'x' is already used on line 1",
        ),
        ('{"id": "../x", "prompt": "a"}\n', "rows.jsonl", "id '../x' cannot name a file"),
        ('{"prompt": "a", "seed": -1}\n', "rows.jsonl", "line 1: 'seed': a seed must be a whole number"),
        ('{"prompt": "a", "seed": 18446744073709551616}\n', "rows.jsonl", "from 0 to 2**64 - 1"),
        (
            '{"prompt": "a"}\n{"prompt": "b", "guidance_scale": Infinity}\n',
            "rows.jsonl",
            "rows.jsonl line 2: 'guidance_scale': inf is not a finite number",
        ),
        (
            "prompt,guidance_scale\na red circle,NaN\n",
            "rows.csv",
            "rows.csv line 2: 'guidance_scale': nan is not a finite number",
        ),
        (
            "prompt,seed\na red circle,1,2\n",
            "rows.csv",
            "rows.csv line 2: 3 cells, but the header has 2 columns",
        ),
        ("prompt\n", "rows.txt", "unknown input format; use .jsonl, .csv or .parquet"),
    ],
)
def test_input_file_errors_name_the_line_and_exit_2(tmp_path, capsys, content, name, expected):
    (tmp_path / name).write_text(content)
    assert (
        main(["batch", "shapes.text2img", "--inputs", str(tmp_path / name), "--out", str(tmp_path / "o")])
        == 2
    )
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_cli_exit_codes_and_usage_errors(tmp_path, capsys):
    inputs = write_jsonl(tmp_path / "rows.jsonl", [{"prompt": "a red circle"}, {"prompt": "a pink circle"}])

    def batch(*args: str, out: str = "o") -> tuple[int, str]:
        code = main(
            ["batch", "shapes.text2img", "--inputs", str(inputs), "--out", str(tmp_path / out), *args]
        )
        return code, capsys.readouterr().err

    code, err = batch("--set", f"num_inference_steps={STEPS}")
    assert code == 1 and "2 rows: 1 ok, 1 failed" in err and "failed 00001" in err and "pink" in err
    for args, message in [
        (["--set", "stepz=3"], "--set: unknown input 'stepz'"),
        (["--set", "seed=3"], "--set seed=...: seed is per row"),
        (["--set", "novalue"], "--set 'novalue': use --set name=value"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
    ]:
        code, err = batch(*args, out="p")
        assert code == 2 and message in err and "Traceback" not in err, err
    code = main(["batch", "example.arith", "--inputs", str(inputs), "--out", str(tmp_path / "o")])
    assert code == 2 and "holds a batch of 'shapes.text2img'" in capsys.readouterr().err


def test_spec_file_target_and_its_default_inputs(tmp_path):
    spec = tmp_path / "shapes.toml"
    spec.write_text(
        f'diffblocks_spec = 1\nworkflow = "shapes.text2img"\n[inputs]\nnum_inference_steps = {STEPS}\n'
    )
    inputs = write_jsonl(tmp_path / "rows.jsonl", [{"prompt": "a red circle"}, {"prompt": "a blue circle"}])
    summary = run(str(spec), inputs, tmp_path / "out", batch_size=2)
    assert summary.ok == 2
    run_json = json.loads((tmp_path / "out/run.json").read_text())
    assert run_json["spec"]["workflow"] == "shapes.text2img" and run_json["block"] is None


def test_ray_flag_without_ray_says_how_to_install(tmp_path, capsys, monkeypatch):
    inputs = write_jsonl(tmp_path / "rows.jsonl", [{"prompt": "a red circle"}])
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed: import fails
    assert (
        main(["batch", "shapes.text2img", "--inputs", str(inputs), "--out", str(tmp_path / "o"), "--ray"])
        == 2
    )
    err = capsys.readouterr().err
    assert "pip install 'diffblocks[ray]'" in err and "Traceback" not in err


@pytest.mark.slow
def test_ctrl_c_stops_after_the_batch_in_flight_and_the_rerun_finishes(tmp_path):
    prompts = ["a red circle", "a blue square", "a green triangle", "a yellow circle"] * 2
    inputs = write_jsonl(tmp_path / "rows.jsonl", [{"prompt": p} for p in prompts])
    args = [
        "batch",
        "shapes.text2img",
        "--inputs",
        str(inputs),
        "--out",
        str(tmp_path / "o"),
        "--batch-size",
        "2",
    ]
    env = {**os.environ, "DIFFBLOCKS_PROGRESS": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "diffblocks.cli", *args, "--set", "num_inference_steps=4"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    log = tmp_path / "o" / "manifest.jsonl"
    deadline = time.monotonic() + 240
    while not (log.exists() and log.read_text()) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err
    assert "stopping after the batch in flight" in err and "Traceback" not in err
    done = manifest(tmp_path / "o")
    assert 2 <= len(done) < len(prompts) and len(done) % 2 == 0  # whole batches only
    assert all(r["status"] == "ok" for r in done.values())
    again = run("shapes.text2img", inputs, tmp_path / "o", batch_size=2, shared={"num_inference_steps": 4})
    assert again.skipped == len(done) and again.ok == len(prompts) - len(done)
