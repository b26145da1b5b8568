"""Spec files: round trips in TOML and JSON, safety, and errors with file, location and fix."""

import json

import pytest
from diffblocks import CompositionError, compose, load_spec, save_spec
from diffblocks._compose._compose import auto_blocks


def structure(block):
    subs = getattr(block, "sub_blocks", None)
    if subs is None:
        return type(block).__name__
    return (
        type(block).__name__,
        list(getattr(block, "block_trigger_inputs", [])),
        {k: structure(v) for k, v in subs.items()},
    )


@pytest.mark.parametrize("ext", ["toml", "json"])
def test_round_trip_same_structure_and_results(tmp_path, ext):
    from diffblocks import get_block

    # `x` is produced upstream, so the multiply branch runs whenever `number` ran
    auto = auto_blocks({"mul": get_block("example.multiply"), "add": get_block("example.add")}, ["x", None])
    blocks = compose({"number": "example.number", "pick": auto, "inner": ["example.add", "example.format"]})
    path = save_spec(blocks, tmp_path / f"pipe.{ext}", inputs={"value": 2.0, "amount": 0.5})
    loaded = load_spec(path)
    assert structure(loaded) == structure(blocks)
    want = blocks.init_pipeline()(value=2.0, amount=0.5, factor=3, output="text")
    assert loaded.init_pipeline()(factor=3, output="text") == want == "result: 6.5"
    assert loaded.init_pipeline()(output="text") == "result: 4.5"  # defaults from the file
    # saving the loaded blocks again gives the same document
    again = save_spec(loaded, tmp_path / f"again.{ext}")
    assert again.read_text() == path.read_text()


def test_file_records_provenance(tmp_path):
    doc = json.loads(
        save_spec(compose(["example.number", "example.format"]), tmp_path / "p.json").read_text()
    )
    assert doc["provenance"]["example.number"] == {"distribution": "diffblocks-example", "version": "0.1.0"}
    assert doc["blocks"] == {"number": "example.number", "format": "example.format"}


def test_workflow_form(tmp_path):
    path = save_spec(compose("example.arith"), tmp_path / "w.toml")
    assert 'workflow = "example.arith"' in path.read_text()
    assert load_spec(path).init_pipeline()(value=1, output="text") == "result: 4"


@pytest.mark.parametrize(
    "target", ["os:system", "subprocess.run", "diffblocks_example.blocks:Add", "../evil"]
)
def test_import_paths_are_never_loaded(tmp_path, target):
    path = tmp_path / "evil.json"
    path.write_text(json.dumps({"diffblocks_spec": 1, "blocks": {"x": target}}))
    with pytest.raises(CompositionError) as info:
        load_spec(path)
    assert info.value.codes == ["not-a-name"] or info.value.codes == ["unknown-name"]
    assert "registered" in str(info.value)


def test_block_not_installed_names_the_distribution(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        'diffblocks_spec = 1\n[blocks]\nsharpen = "acme.sharpen"\n[provenance."acme.sharpen"]\ndistribution = "acme-blocks"\nversion = "2.0"\n'
    )
    with pytest.raises(CompositionError) as info:
        load_spec(path)
    text = str(info.value)
    assert str(path) in text and "blocks.sharpen" in text and "acme-blocks 2.0" in text and "install" in text


def test_typo_gets_did_you_mean(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('diffblocks_spec = 1\n[blocks]\nn = "example.numbr"\n')
    with pytest.raises(CompositionError, match="Did you mean 'example.number'"):
        load_spec(path)


@pytest.mark.parametrize(
    "text, ext, code, where",
    [
        ("diffblocks_spec = 1\n[blocks\n", "toml", "syntax", "line 2"),
        ('{"diffblocks_spec": 1, "blocks": {', "json", "syntax", "line 1"),
        (
            '{"diffblocks_spec": 1, "blocks": {"a": "example.add", "a": "example.add"}}',
            "json",
            "duplicate-key",
            "",
        ),
        ('diffblocks_spec = 1\nblokcs = {a = "example.add"}\n', "toml", "unknown-key", "blokcs"),
        ('diffblocks_spec = 1\nblocks = ["example.add"]\n', "toml", "wrong-type", "blocks"),
        ('diffblocks_spec = 2\nblocks = {a = "example.add"}\n', "toml", "version", "diffblocks_spec"),
        (
            'diffblocks_spec = 1\n[blocks.g]\ntype = "parallel"\nblocks = {a = "example.add"}\n',
            "toml",
            "wrong-value",
            "blocks.g.type",
        ),
        (
            'diffblocks_spec = 1\n[blocks.g]\ntype = "auto"\nblocks = {a = "example.add", b = "example.multiply"}\ntriggers = {a = "amount"}\n',
            "toml",
            "missing-trigger",
            "blocks.g.b",
        ),
        (
            'diffblocks_spec = 1\nblocks = {a = "example.add"}\n[components.unet]\npth = "x"\n',
            "toml",
            "unknown-key",
            "components.unet",
        ),
    ],
)
def test_malformed_files_get_code_location_and_fix(tmp_path, text, ext, code, where):
    path = tmp_path / f"bad.{ext}"
    path.write_text(text)
    with pytest.raises(CompositionError) as info:
        load_spec(path)
    assert code in info.value.codes
    message = str(info.value)
    assert str(path) in message and where in message


def test_bad_extension(tmp_path):
    with pytest.raises(CompositionError, match=".toml or .json"):
        save_spec(compose("example.arith"), tmp_path / "p.yaml")


def test_unregistered_block_cannot_be_saved(tmp_path):
    from blockfactory import adder

    with pytest.raises(CompositionError, match="not created from a registered name"):
        save_spec(compose([adder()]), tmp_path / "p.toml")
