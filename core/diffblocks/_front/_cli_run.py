"""``diffblocks run``: run a spec file, a registered block or the record inside a PNG.

Every check that can fail on the user's arguments runs before anything is computed: the output
file, the output name, the ``--set`` values, the device and the seed. PNGs carry a generation
record (see ``_png.py``) so ``--from-png`` runs the same thing again.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from ._cli_output import (
    UsageError,
    as_json,
    atomic_write,
    check_kind,
    check_not_there,
    check_number,
    check_out_path,
    image_paths,
    kind_of_hint,
    kind_of_value,
    refuse_text,
    write_tensors,
)
from ._png import generation_record
from ._rows import CALL_KEYWORDS, is_spec_path, seed_problem

#: Inputs that are counts or sizes wherever they appear (diffusers' names): positive integers.
POSITIVE_INTS = ("num_inference_steps", "height", "width", "num_images_per_prompt", "batch_size")


def parse_value(text: str) -> Any:
    """``--set`` values: JSON when the text parses as JSON (NaN/Infinity refused), else the text."""

    def no_constants(name: str) -> Any:
        raise UsageError(f"{name} is not a finite number")

    try:
        return json.loads(text, parse_constant=no_constants)
    except UsageError:
        raise
    except ValueError:
        return text


def parse_sets(items: list[str], *, output_flag: str | None = "--output NAME") -> dict[str, Any]:
    """``--set name=value`` items as inputs (values by :func:`parse_value`), refusing the pipeline
    call's own keywords; ``output_flag`` is the option that picks an output, where there is one."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {item!r}: use --set name=value")
        if key in CALL_KEYWORDS:
            fix = f"; use {output_flag}" if key == "output" and output_flag else ""
            raise UsageError(
                f"--set {key}: {key!r} is reserved (a keyword of the pipeline call), not an input{fix}"
            )
        try:
            values[key] = parse_value(text)
        except UsageError as exc:
            raise UsageError(f"--set {key}={text}: {exc}") from None
    return values


def check_values(values: dict[str, Any], origin: dict[str, str]) -> None:
    """Finite numbers everywhere; positive integers for the well-known counts and sizes.
    ``origin`` says where each value came from (``--set steps``, a spec file, a PNG's record)."""
    for key, value in values.items():
        where = origin.get(key, f"input {key}")
        check_number(value, where)
        if key in POSITIVE_INTS and value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UsageError(f"{where}: {key} must be a positive whole number, not {value!r}")


def check_seed(seed: int | None, where: str = "--seed") -> None:
    """The one seed rule (:func:`seed_problem`), worded for the flag or file it came from."""
    problem = None if seed is None else seed_problem(seed)
    if problem is not None:
        raise UsageError(f"{where} {seed}: {problem}")


def check_device(device: str, where: str | None = None) -> None:
    """An unknown device, or one this machine lacks, is refused before any model is loaded.
    ``where`` names its source (default ``--device DEVICE``)."""
    import torch

    where = where or f"--device {device}"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise UsageError(f"{where}: unknown device; use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"{where}: CUDA is not available on this machine; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"{where}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"{where}: MPS is not available on this machine; use --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"{where}: unsupported device type {dev.type!r}; use cpu, cuda or mps")


def _blocks_for(target: str) -> tuple[Any, dict[str, Any]]:
    """The blocks to run, and how a PNG record names them (block name or spec dict)."""
    from ._cli_compose import _target

    blocks = _target(target)
    if is_spec_path(target):
        from .._compose._specfile import spec_dict

        # component paths in the spec are absolute by now; the folder they were allowed under
        # (the spec file's) goes along, so --from-png applies the same containment rule
        spec = spec_dict(blocks)
        return blocks, {"spec": spec, "extra": {"spec_folder": str(Path(target).resolve().parent)}}
    return blocks, {"block": target}


def _recorded(png: str, key: str) -> str:
    """How an error names a value that came from a PNG's record (not from the command line)."""
    return f"{png}: the diffblocks record's {key}"


def _blocks_from_record(record: dict[str, Any], png: str) -> tuple[Any, dict[str, Any]]:
    from .._compose._compose import compose
    from .._compose._specfile import load_spec
    from .._model._errors import CompositionError

    if record.get("block"):
        try:
            return compose(record["block"]), {"block": record["block"]}
        except CompositionError as exc:
            exc.source = _recorded(png, "'block'")
            raise
    spec = record.get("spec")
    if not isinstance(spec, dict):
        raise UsageError(f"--from-png {png}: its record names neither a block nor a spec")
    root = record.get("spec_folder")
    if spec.get("components") and not isinstance(root, str):
        raise UsageError(
            f"--from-png {png}: its record has component paths but not the folder they belong to"
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.json"
        path.write_text(json.dumps(spec))
        try:
            blocks = load_spec(path, component_root=root)
        except CompositionError as exc:
            # the temporary file is gone when the message is read: name the PNG and its key
            exc.source = _recorded(png, "'spec'")
            raise
    return blocks, {"spec": spec, "extra": {"spec_folder": root}}


#: The record's keys that ``--from-png`` reads, and what each must hold (None is always allowed).
_RECORD_SHAPE: dict[str, tuple[type, str]] = {
    "block": (str, "a registered block name (text)"),
    "spec": (dict, "an object (a spec)"),
    "spec_folder": (str, "a folder path (text)"),
    "inputs": (dict, "an object of input name: value"),
    "output": (str, "an output name (text)"),
    "device": (str, "a device name (text)"),
    "diffblocks": (str, "a version (text)"),
    "plugins": (dict, "an object of distribution name: version"),
}


def _check_record(record: dict[str, Any], png: str) -> None:
    """Refuse a record whose values have the wrong shape, naming the file and the key."""
    for key, (kind, what) in _RECORD_SHAPE.items():
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise UsageError(
                f"{_recorded(png, repr(key))} must be {what}, not {type(value).__name__} {value!r}"
            )
    for version in (record.get("plugins") or {}).values():
        if version is not None and not isinstance(version, str):
            raise UsageError(
                f"{_recorded(png, repr('plugins'))} must map names to versions (text), not {version!r}"
            )
    seed = record.get("seed")
    if seed is not None and seed_problem(seed) is not None:
        raise UsageError(f"{_recorded(png, repr('seed'))}: {seed_problem(seed)}")
    for key, value in (record.get("inputs") or {}).items():
        if key in CALL_KEYWORDS:
            raise UsageError(
                f"{_recorded(png, f'inputs.{key}')}: {key!r} is reserved (a keyword of the pipeline call), "
                f"not an input"
            )
        if isinstance(value, dict) and "__repr__" in value:
            raise UsageError(
                f"--from-png {png}: input {key!r} was a {value['__repr__']} and is not stored in the "
                f"file; give it again with --set"
            )


def _read_record(png: str) -> dict[str, Any]:
    from ._png import RECORD_VERSION, read_png_metadata

    if not Path(png).is_file():
        raise UsageError(f"--from-png {png}: no such file")
    try:
        record = read_png_metadata(png)
    except OSError as exc:
        raise UsageError(f"--from-png {png}: not a readable image ({exc})") from None
    if record is None:
        raise UsageError(
            f"--from-png {png}: the file holds no diffblocks record (diffblocks run did not write it)"
        )
    version = record.get("format")
    if isinstance(version, bool) or not isinstance(version, int):
        raise UsageError(f"{_recorded(png, repr('format'))} must be a whole number, not {version!r}")
    if version > RECORD_VERSION:
        raise UsageError(f"--from-png {png}: record format {version!r} is newer than this diffblocks")
    _check_record(record, png)
    return record


def _note_version_changes(record: dict[str, Any]) -> None:
    from .._model._version import __version__
    from ._png import plugin_versions

    then = {"diffblocks": record.get("diffblocks"), **(record.get("plugins") or {})}
    now = {"diffblocks": __version__, **plugin_versions()}
    changed = [f"{k} {then[k]} -> {now.get(k)}" for k in then if then[k] != now.get(k)]
    if changed:
        print(
            f"note: versions differ from the run that made this file: {', '.join(changed)}", file=sys.stderr
        )


def cmd_run(args: argparse.Namespace) -> int:
    record: dict[str, Any] | None = None
    png: str = args.from_png or ""
    if args.from_png is not None and args.target:
        raise UsageError("give a target or --from-png FILE, not both")
    if args.from_png is not None:
        record = _read_record(png)
    elif not args.target:
        raise UsageError("give a spec file or a registered block name to run (or --from-png FILE)")
    out = check_out_path(args.out, args.force) if args.out is not None else None
    check_seed(args.seed)
    sets = parse_sets(args.set or [])
    origin = {k: f"--set {k}" for k in sets}
    check_values(sets, origin)  # before any block is imported: these need nothing but the text
    device, device_from = args.device, None
    if device is None and record is not None and record.get("device") is not None:
        device, device_from = record["device"], f"{_recorded(png, repr('device'))} {record['device']!r}"
    if device is not None:
        check_device(device, device_from)
    output, output_from = args.output, f"--output {args.output}"
    spec_origin = "the spec file's [inputs]"
    if record is not None:
        _note_version_changes(record)
        recorded = record.get("inputs") or {}
        origin = {**{k: _recorded(png, f"inputs.{k}") for k in recorded}, **origin}
        values = {**recorded, **sets}
        check_values(values, origin)
        blocks, source = _blocks_from_record(record, png)
        seed = args.seed if args.seed is not None else record.get("seed")
        if output is None and record.get("output") is not None:
            output, output_from = record["output"], f"{_recorded(png, repr('output'))} {record['output']!r}"
        spec_origin = _recorded(png, "spec's [inputs]")
    else:
        blocks, source = _blocks_for(args.target)
        values, seed = sets, args.seed

    outputs = {o.name: o for o in blocks.intermediate_outputs}
    if not outputs:
        raise UsageError("this pipeline declares no outputs, so there is nothing to print or save")
    if output is not None and output not in outputs:
        from .._model._errors import suggest

        hint = suggest(output, outputs)
        raise UsageError(
            f"{output_from}: not an output of this pipeline.{hint} Outputs: {', '.join(outputs)}"
        )
    name = output or ("images" if "images" in outputs else list(outputs)[-1])

    pipe = blocks.init_pipeline()
    origin = {**{k: f"{spec_origin} {k}" for k in pipe.default_inputs}, **origin}
    check_values({**pipe.default_inputs, **values}, origin)  # spec-file and PNG-recorded values too
    expected = kind_of_hint(outputs[name].type_hint, {**pipe.default_inputs, **values}.get("output_type"))
    if out is not None and expected is not None:
        check_kind(out, expected, name)
    elif out is None and expected in ("image", "tensor"):
        refuse_text(expected, name)

    accepted = pipe.accepted_inputs()
    unknown = [k for k in values if k not in accepted]
    if unknown:
        pipe(**values)  # raises UnknownInputError with did-you-mean hints, before any block runs
    pipe.load_default_components()
    call = dict(values)
    if device:
        pipe.to(device)
        if "device" in accepted:
            call.setdefault("device", device)
    if seed is not None:
        if "generator" in accepted:
            import torch

            call.setdefault("generator", torch.Generator(device or "cpu").manual_seed(seed))
        elif "seed" in accepted:
            call.setdefault("seed", seed)
        else:
            raise UsageError("--seed: this pipeline takes neither a 'generator' nor a 'seed' input")
    value = pipe(**call, output=name)

    if out is None:
        print(as_json(value, name))
        return 0
    record = generation_record(
        inputs={k: v for k, v in values.items() if k != "generator"},
        seed=seed,
        block=source.get("block"),
        spec=source.get("spec"),
        extra={"device": device, "output": name, **source.get("extra", {})},
    )
    written, text = _write_output(value, name, out, record, args.force)
    print(f"wrote {name} to {', '.join(map(str, written))}", file=sys.stderr)
    if text is not None and args.output:
        print(text)
    return 0


def _write_output(
    value: Any, name: str, out: Path, record: dict[str, Any], force: bool
) -> tuple[list[Path], str | None]:
    """Write ``value`` by its kind; returns the files written and, for plain values, their JSON."""
    kind = kind_of_value(value)
    check_kind(out, kind, name)
    if kind == "tensor":
        return [atomic_write(out, lambda tmp: write_tensors(value, tmp, name))], None
    if kind == "json":
        text = as_json(value, name)
        return [atomic_write(out, lambda tmp: tmp.write_text(text + "\n"))], text
    images = list(value) if isinstance(value, (list, tuple)) else [value]
    paths = image_paths(out, len(images))
    if len(paths) > 1:  # name_0.png, name_1.png, ...: none may exist (unless --force)
        for path in paths:
            check_not_there(path, force)
    many = len(images) > 1
    return [
        atomic_write(path, functools.partial(_write_image, image, record=record, index=i, many=many))
        for i, (image, path) in enumerate(zip(images, paths))
    ], None


def _write_image(image: Any, tmp: Path, *, record: dict[str, Any], index: int, many: bool) -> None:
    """PNG with the generation record (and the image's index in a batch); JPEG/WebP without."""
    from ._png import save_png

    suffix = tmp.suffix.lower()
    if suffix == ".png":
        save_png(image, tmp, {**record, "image_index": index} if many else record)
    else:
        image.save(tmp, format="JPEG" if suffix in (".jpg", ".jpeg") else "WEBP")


def add_run_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="run a spec file, a registered block, or the record in a PNG")
    p.add_argument("target", nargs="?", help="a spec file (.toml/.json) or a registered block name")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="an input; VALUE is JSON when it parses, else a string",
    )
    p.add_argument("--seed", type=int, help="seed for the pipeline's generator (0 to 2**64-1)")
    p.add_argument(
        "--output", metavar="NAME", help="which output to print or save (default: images, else the last)"
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="save the output: images as .png/.jpg/.webp, tensors as .safetensors, other values as .json",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--device", help="device for models and generator: cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--from-png",
        metavar="FILE",
        help="run again what made FILE (a PNG written by diffblocks run); --set and --seed override",
    )
    p.set_defaults(handler=cmd_run)
