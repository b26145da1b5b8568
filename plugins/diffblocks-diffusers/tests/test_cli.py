# ruff: noqa: F811  (test arguments named after the imported `sdxl` fixture)
"""A mixed pipeline by name from a spec file, through `diffblocks run`: diffusers' SDXL
text2image followed by a post-processing block of another distribution, with a guider set on the
command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import diffblocks
import diffusers
import pytest
import torch
from diffblocks import InputParam, OutputParam, PipelineBlock
from diffblocks.cli import main
from diffusers_fixtures import sdxl  # noqa: F401  (the fixture, shared without a conftest.py)
from diffusers_tiny import with_fresh_scheduler


class ImageStats(PipelineBlock):
    """A third-party post-processing block: the mean of the generated images."""

    @property
    def inputs(self) -> list[InputParam]:
        return [InputParam("images", required=True, description="images as a tensor (output_type='pt')")]

    @property
    def intermediate_outputs(self) -> list[OutputParam]:
        return [OutputParam("image_mean", float, "mean pixel value")]

    def __call__(self, components: Any, state: Any) -> tuple[Any, Any]:
        bs = self.get_block_state(state)
        bs.image_mean = float(bs.images.float().mean())
        self.set_block_state(state, bs)
        return components, state


@pytest.fixture()
def stats_block() -> Any:
    diffblocks.registry.register("testpost.image_stats", ImageStats)
    yield "testpost.image_stats"
    diffblocks.registry.unregister("testpost.image_stats")


SPEC = """\
diffblocks_spec = 1
description = "SDXL text2image from diffusers, then a post-processing block"

[blocks]
generate = "diffusers.stable_diffusion_xl.text2image"
stats = "testpost.image_stats"

[inputs]
num_inference_steps = 2
height = 32
width = 32
output_type = "pt"
"""


def test_spec_file_with_diffusers_workflow_runs_from_the_cli(
    sdxl: dict[str, Any], stats_block: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "tiny-sdxl"
    diffusers.StableDiffusionXLPipeline(**sdxl).save_pretrained(model)
    names = ["unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler"]
    spec = tmp_path / "sdxl_stats.toml"
    spec.write_text(SPEC + "".join(f'\n[components.{n}]\npath = "{model}"\n' for n in names))

    assert main(["validate", str(spec)]) == 0
    code = main(
        [
            "run",
            str(spec),
            "--set",
            "prompt=a cat",
            "--set",
            'guider={"guidance_scale": 5.0}',
            "--seed",
            "0",
            "--output",
            "image_mean",
        ]
    )
    assert code == 0, capsys.readouterr().err
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    reference = diffusers.StableDiffusionXLAutoBlocks().get_workflow("text2image").init_pipeline()
    reference.update_components(
        **with_fresh_scheduler(sdxl), guider=diffusers.ClassifierFreeGuidance(guidance_scale=5.0)
    )
    images = reference(
        prompt="a cat",
        num_inference_steps=2,
        height=32,
        width=32,
        output_type="pt",
        generator=torch.Generator().manual_seed(0),
        output="images",
    )
    assert abs(got - float(images.mean())) <= 1e-5


def test_saved_spec_round_trips(stats_block: str, tmp_path: Path) -> None:
    blocks = diffblocks.compose(["diffusers.stable_diffusion_xl.text2image", stats_block])
    path = diffblocks.save_spec(
        blocks, tmp_path / "s.toml", inputs={"guider": {"type": "apg", "guidance_scale": 6.0}}
    )
    text = path.read_text()
    assert '"diffusers.stable_diffusion_xl.text2image"' in text and "diffblocks-diffusers" in text
    again = diffblocks.load_spec(path)
    assert list(again.sub_blocks) == ["stable_diffusion_xl_text2image", "image_stats"]
    assert again.init_pipeline().default_inputs["guider"] == {"type": "apg", "guidance_scale": 6.0}
