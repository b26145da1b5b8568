"""The shipped shapes model, checked independently by plain image analysis."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffblocks import get_block
from diffblocks_shapes.data import COLOURS, SHAPES, render
from diffblocks_shapes.quality import classify, score

PROMPTS = [f"a {c} {s}" for c in COLOURS for s in SHAPES]
# runs the model on many prompts: the second phase of the README's test command
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipe():
    return get_block("shapes.text2img").init_pipeline()


def to_uint8(arrays):
    return [(a * 255).round().astype(np.uint8) for a in arrays]


def test_classifier_reads_the_training_data_correctly():
    """The checker itself is right on ground truth, so the model test means something."""
    gen = torch.Generator().manual_seed(123)
    colour_idx = torch.arange(len(COLOURS)).repeat_interleave(len(SHAPES)).repeat(5)
    shape_idx = torch.arange(len(SHAPES)).repeat(len(COLOURS)).repeat(5)
    images = ((render(colour_idx, shape_idx, gen) + 1) / 2).permute(0, 2, 3, 1).numpy()
    prompts = [f"a {list(COLOURS)[c]} {SHAPES[s]}" for c, s in zip(colour_idx.tolist(), shape_idx.tolist())]
    result = score(to_uint8(images), prompts)
    assert result["colour"] == 1.0 and result["shape"] >= 0.95


def test_classifier_sees_nothing_in_a_blank_picture():
    assert classify(np.zeros((32, 32, 3), dtype=np.uint8)) == (None, None, 0.0)


def test_full_prompt_grid_two_seeds_meets_the_targets(pipe):
    images, prompts = [], []
    for seed in (0, 1):
        arrays = pipe(
            prompt=PROMPTS,
            generator=torch.Generator().manual_seed(seed),
            output_type="np",
            show_progress=False,
            output="images",
        )
        images += to_uint8(arrays)
        prompts += PROMPTS
    result = score(images, prompts)
    assert result["n"] == 24
    assert result["colour"] >= 0.8, result
    assert result["shape"] >= 0.7, result


def test_same_seed_same_picture_and_prompt_changes_it(pipe):
    def one(prompt, seed):
        return pipe(
            prompt=prompt,
            generator=torch.Generator().manual_seed(seed),
            output_type="np",
            show_progress=False,
            output="images",
        )[0]

    a, b = one("a red circle", 3), one("a red circle", 3)
    assert np.array_equal(a, b)
    assert np.abs(one("a blue square", 3) - a).max() > 0.2


def test_unknown_words_are_rejected_with_the_vocabulary(pipe):
    with pytest.raises(Exception, match="does not know the word\\(s\\) \\['purple'\\]"):
        pipe(prompt="a purple circle", show_progress=False)


def test_weights_are_small_safetensors():
    from diffblocks_shapes import WEIGHTS

    files = list(WEIGHTS.rglob("*"))
    assert not [f for f in files if f.suffix in (".bin", ".pt", ".pth", ".ckpt")]
    total = sum(f.stat().st_size for f in files if f.is_file())
    assert 0 < total <= 20 * 2**20
