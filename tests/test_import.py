"""`import diffblocks` stays light: no torch, no plugin imports."""

import subprocess
import sys


def test_import_does_not_pull_torch_or_diffusers():
    code = "import sys, diffblocks; print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_is_explicit():
    import diffblocks

    for name in diffblocks.__all__:
        assert hasattr(diffblocks, name), name
    for name in [
        "InputParam",
        "OutputParam",
        "ComponentSpec",
        "ConfigSpec",
        "PipelineState",
        "BlockState",
        "ModularPipelineBlocks",
        "PipelineBlock",
        "SequentialPipelineBlocks",
        "AutoPipelineBlocks",
        "LoopSequentialPipelineBlocks",
        "InsertableDict",
        "ModularPipeline",
    ]:
        assert name in diffblocks.__all__
