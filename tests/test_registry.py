"""The registry API: run-time registration, lookup errors, families, test-kit isolation."""

import diffblocks
import pytest
from blockfactory import adder
from diffblocks import BlockNotFoundError, ModelFamily, ModularPipeline, Registry, get_block, use_registry


@pytest.fixture
def reg():
    with use_registry(Registry(autoload=False)) as registry:
        yield registry


def test_register_class_instance_and_lazy_string(reg):
    reg.register("t.cls", type(adder()))
    reg.register("t.inst", adder("x", 5))
    reg.register("t.lazy", "blockfactory:leaf")  # not a block: fails on use, not on listing
    assert [e.name for e in diffblocks.list_blocks()] == ["t.cls", "t.inst", "t.lazy"]
    assert get_block("t.cls").init_pipeline()(x=1, output="x") == 2
    a, b = get_block("t.inst"), get_block("t.inst")
    assert a is not b and a.init_pipeline()(x=1, output="x") == 6
    with pytest.raises(diffblocks.BlockImportError, match="not a ModularPipelineBlocks"):
        get_block("t.lazy")


def test_invalid_names_are_refused(reg):
    for bad in ("NoDot", "Upper.case", "ns.", ".x", "a b.c"):
        with pytest.raises(ValueError, match="namespace.name"):
            reg.register(bad, adder())
    with pytest.raises(TypeError):
        reg.register("t.bad", 42)


def test_unknown_name_suggests_and_lists(reg):
    reg.register("sd.text2img", adder())
    reg.register("sd.img2img", adder())
    with pytest.raises(BlockNotFoundError) as info:
        get_block("sd.text2im")
    text = str(info.value)
    assert "Did you mean 'sd.text2img'" in text and "sd.img2img" in text


def test_unregister_and_reregister_by_same_distribution(reg):
    reg.register("t.a", adder("x", 1))
    reg.register("t.a", adder("x", 2))  # same (runtime) distribution: replaces, no conflict
    assert len(diffblocks.list_blocks()) == 1 and not diffblocks.list_blocks()[0].conflict
    reg.unregister("t.a")
    assert diffblocks.list_blocks() == []


def test_family_pipeline_class_used_by_init_pipeline(reg):
    class AcmePipeline(ModularPipeline):
        pass

    reg.register_family(
        ModelFamily("acme", "test family", pipeline_class=AcmePipeline, workflows={"go": "acme.go"})
    )
    block = adder()
    type(block).model_name = "acme"
    assert isinstance(block.init_pipeline(), AcmePipeline)
    assert diffblocks.get_family("acme").workflows == {"go": "acme.go"}
    with pytest.raises(KeyError, match="registered families: acme"):
        diffblocks.get_family("nope")


def test_registry_proxy_follows_use_registry(reg):
    assert diffblocks.registry.autoload is False
    inner = Registry(autoload=False)
    with use_registry(inner):
        diffblocks.registry.register("t.only_inner", adder())
    assert "t.only_inner" in inner.block_names() and "t.only_inner" not in reg.block_names()


def test_hookimpl_is_lazy_and_pluggy_marker():
    import subprocess
    import sys

    code = "import sys, diffblocks; assert 'pluggy' not in sys.modules; diffblocks.hookimpl; assert 'pluggy' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_name_lists_the_three_closest_not_the_whole_registry(reg):
    for i in range(40):
        reg.register(f"bulk.block_{i:02d}", adder())
    reg.register("sd.text2img", adder())
    with pytest.raises(BlockNotFoundError) as info:
        get_block("bulk.block_1")
    text = str(info.value)
    named = [n for n in reg.block_names() if repr(n) in text]
    assert len(named) == 3 and "sd.text2img" not in text
    assert "41 registered blocks" in text and "diffblocks blocks list" in text


def test_families_are_claims_too(reg):
    from diffblocks import NameConflictError

    reg.register_family(ModelFamily("acme"), distribution="one-dist")
    reg.register_family(ModelFamily("acme"), distribution="two-dist")
    with pytest.raises(NameConflictError, match="model family 'acme'"):
        diffblocks.get_family("acme")
    reg.register_family(ModelFamily("acme", "mine"), override=True)
    assert diffblocks.get_family("acme").description == "mine"
