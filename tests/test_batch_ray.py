"""diffblocks batch on Ray Data: one real local Ray cluster (2 CPUs) for the whole module."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import ray
from diffblocks._front._png import read_png_metadata
from diffblocks.batch import map_images, run
from diffblocks.cli import main
from PIL import Image

STEPS = 2
TOLERANCE = 2  # the same bound as between batch sizes: at most 2/255 per value

ROWS = [
    {"prompt": "a red circle"},
    {"prompt": "a blue square"},
    {"prompt": "a green triangle", "guidance_scale": 2.0},
    {"prompt": "a magenta circle"},  # fails inside the pipeline, on a worker
    {"prompt": "a red square", "stepz": 1},  # fails its checks, on the driver
    {"prompt": "a yellow circle"},
]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)
    yield
    ray.shutdown()


def pixels(source: Path | bytes) -> np.ndarray:
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
        return np.asarray(im.convert("RGB")).astype(np.int16)


def manifest(out: Path) -> dict[str, dict]:
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len({r["id"] for r in records}) == len(records)
    return {r["id"]: r for r in records}


@pytest.mark.slow
def test_ray_run_makes_the_embedded_images_and_resumes(cluster, tmp_path):
    inputs = tmp_path / "rows.jsonl"
    inputs.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    shared = {"num_inference_steps": STEPS}
    embedded = run("shapes.text2img", inputs, tmp_path / "here", batch_size=2, shared=shared)
    # the CLI's --ray: two CPU workers, each holding one pipeline
    args = ["--batch-size", "2", "--set", f"num_inference_steps={STEPS}", "--ray", "--workers", "2"]
    code = main(["batch", "shapes.text2img", "--inputs", str(inputs), "--out", str(tmp_path / "ray"), *args])
    assert (embedded.ok, embedded.failed, code) == (4, 2, 1)
    here, there = manifest(tmp_path / "here"), manifest(tmp_path / "ray")
    assert sorted(here) == sorted(there)
    for row_id, record in here.items():
        other = there[row_id]
        assert (other["status"], other["seed"], other["inputs"], other["files"]) == (
            record["status"],
            record["seed"],
            record["inputs"],
            record["files"],
        )
        assert (other["error"] is None) == (record["error"] is None)
        for name in record["files"]:
            diff = np.abs(pixels(tmp_path / "here" / name) - pixels(tmp_path / "ray" / name)).max()
            assert diff <= TOLERANCE, f"{name}: {diff}/255"
    assert "magenta" in there["00003"]["error"] and "unknown input 'stepz'" in there["00004"]["error"]
    meta = read_png_metadata(tmp_path / "ray/images/00001.png")
    assert meta is not None and meta["seed"] == 1 and meta["inputs"]["prompt"] == "a blue square"
    again = run("shapes.text2img", inputs, tmp_path / "ray", batch_size=2, shared=shared, ray=True)
    assert (again.skipped, again.ok, again.failed) == (4, 0, 2)
    assert len(manifest(tmp_path / "ray")) == len(ROWS)


@pytest.mark.slow
def test_map_images_in_a_users_own_ray_pipeline(cluster, tmp_path):
    rows = [{"prompt": "a red circle", "seed": 0}, {"prompt": "a blue square", "seed": 1}]
    ds = ray.data.from_items(rows)
    mapped = map_images(ds, "shapes.text2img", batch_size=2, shared={"num_inference_steps": STEPS})
    results = {json.loads(r["inputs_json"])["prompt"]: r for r in mapped.take_all()}
    assert all(r["status"] == "ok" for r in results.values())
    for row in rows:
        (png,) = results[row["prompt"]]["png"]
        target = tmp_path / f"single_{row['seed']}.png"  # run never overwrites a file
        sets = ["--set", f"prompt={row['prompt']}", "--set", f"num_inference_steps={STEPS}"]
        assert main(["run", "shapes.text2img", *sets, "--seed", str(row["seed"]), "--out", str(target)]) == 0
        assert np.abs(pixels(png) - pixels(target)).max() <= TOLERANCE
