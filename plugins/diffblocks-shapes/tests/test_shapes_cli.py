"""The README's main job: `diffblocks run shapes.text2img ... --out red.png` from the command line."""

import os
import shutil
import subprocess
import sys

import numpy as np
from diffblocks_shapes.quality import classify
from PIL import Image


def test_run_writes_the_requested_picture(tmp_path):
    exe = shutil.which("diffblocks", path=os.path.dirname(sys.executable))
    out = tmp_path / "red.png"
    proc = subprocess.run(
        [exe, "run", "shapes.text2img", "--set", "prompt=a red circle", "--seed", "0", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote images to {out}" in proc.stderr
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape == (32, 32, 3)
    colour, shape, _ = classify(image)
    assert (colour, shape) == ("red", "circle")


def test_blocks_are_listed_lazily():
    exe = shutil.which("diffblocks", path=os.path.dirname(sys.executable))
    proc = subprocess.run([exe, "blocks", "list"], capture_output=True, text=True, timeout=120)
    assert "shapes.text2img" in proc.stdout and "diffblocks-shapes" in proc.stdout


def test_out_of_range_values_are_refused_before_any_block_runs(tmp_path):
    exe = shutil.which("diffblocks", path=os.path.dirname(sys.executable))
    out = tmp_path / "never.png"
    proc = subprocess.run(
        [exe, "run", "shapes.text2img", "--set", "prompt=a red circle", "--set", "guidance_scale=-1"]
        + ["--set", "output_type=bogus", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no block has run" in proc.stderr
    assert "'guidance_scale' for block 'text_encoder' (TextEncoderStep): must be >= 0; got -1" in proc.stderr
    assert (
        "'output_type' for block 'decode' (DecodeStep): must be one of 'pil', 'np', 'pt'; got 'bogus'"
        in proc.stderr
    )
    assert not out.exists()
