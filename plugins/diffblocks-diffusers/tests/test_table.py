"""The static table: listed without importing diffusers or torch, and in sync with diffusers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "sync_table.py"


def _sync_module() -> Any:
    spec = importlib.util.spec_from_file_location("sync_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sync() -> Any:
    return _sync_module()


@pytest.fixture(scope="module")
def data(sync: Any) -> dict[str, Any]:
    return sync.collect()  # type: ignore[no-any-return]


PROBE = """
import json, sys
import diffblocks
names = [e.name for e in diffblocks.list_blocks() if e.name.startswith("diffusers.")]
families = [f.name for f in diffblocks.list_families() if f.name.startswith("diffusers.")]
print(json.dumps({"names": names, "families": families,
                  "imported": [m for m in ("torch", "diffusers", "transformers") if m in sys.modules]}))
"""


def test_listing_imports_neither_diffusers_nor_torch(data: dict[str, Any], sync: Any) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["imported"] == []
    assert sorted(got["names"]) == sorted(name for name, _ in sync.entry_points(data))
    assert len(got["families"]) == len(data["families"]) >= 30
    assert "diffusers.stable_diffusion_xl.text2image" in got["names"]
    assert "diffusers.ltx2_5.auto" in got["names"]  # ltx2.5 -> ltx2_5
    assert "diffusers.hunyuan_video_1_5.text2video" in got["names"]


def test_cli_lists_names_unimported() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "diffblocks.cli", "blocks", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    row = rows["diffusers.flux.text2image"]
    assert row["distribution"] == "diffblocks-diffusers" and row["imported"] is False
    assert not any(r["conflict"] for r in rows.values() if r["name"].startswith("diffusers."))


def test_table_matches_installed_diffusers(data: dict[str, Any], sync: Any) -> None:
    """Fails after a diffusers upgrade until scripts/sync_table.py is run again."""
    stale = [
        str(path) for path, text in sync.outputs(data).items() if path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"stale generated files {stale}: run {SCRIPT}"


def test_installed_entry_points_match_table(data: dict[str, Any], sync: Any) -> None:
    from importlib.metadata import entry_points

    installed = {
        (ep.name, ep.value)
        for ep in entry_points(group="diffblocks.blocks")
        if ep.dist is not None and ep.dist.metadata["Name"] == "diffblocks-diffusers"
    }
    assert installed == set(sync.entry_points(data)), (
        "reinstall the plugin: pip install --no-deps --force-reinstall plugins/diffblocks-diffusers"
    )


def test_every_name_composes_and_validates(sync: Any, data: dict[str, Any]) -> None:
    """Every name keeps the block contract, composes, and passes validation (but the known few)."""
    import warnings

    from diffblocks import CompositionError, compose, get_block
    from diffblocks.testing import check_block

    failed = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, _ in sync.entry_points(data):
            check_block(get_block(name), name=name)
            try:
                blocks = compose(name)
            except CompositionError:
                failed.add(name)
                continue
            assert blocks.model_name == "diffusers." + name.split(".")[1]
    assert failed == set(sync.KNOWN_INVALID)


def test_families_are_registered_with_specs(data: dict[str, Any]) -> None:
    from diffblocks import get_family
    from diffblocks_diffusers.pipeline import DiffusersModularPipeline

    family = get_family("diffusers.stable_diffusion_xl")
    assert family.workflows["text2image"] == "diffusers.stable_diffusion_xl.text2image"
    assert {"unet", "vae", "text_encoder_2", "guider"} <= {c.name for c in family.components}
    specs = {c.name: c for c in family.components}
    assert specs["guider"].default_creation_method == "from_config"
    assert {c.name for c in family.configs} == {"force_zeros_for_empty_prompt", "requires_aesthetics_score"}
    assert family.resolve_pipeline_class() is DiffusersModularPipeline


def test_every_family_preset_becomes_a_pipeline(data: dict[str, Any], sync: Any) -> None:
    """Every family's components are created from their configs as diffusers creates them."""
    import warnings

    from diffblocks import compose

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fam in data["families"]:
            if f"diffusers.{fam}.auto" in sync.KNOWN_INVALID:
                continue
            pipe = compose(f"diffusers.{fam}.auto").init_pipeline()
            created = {n for n, v in pipe.components.items() if v is not None}
            expected = {
                c["name"] for c in data["families"][fam]["components"] if c["method"] == "from_config"
            }
            assert created == expected, fam
