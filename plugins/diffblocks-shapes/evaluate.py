"""Generate the full prompt grid for two seeds, classify each picture by image analysis, and
write a contact sheet.

    python plugins/diffblocks-shapes/evaluate.py --sheet docs/shapes_contact_sheet.png

Prints JSON: colour and shape accuracy. Uses the installed diffblocks-shapes weights, or --weights DIR.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def generate(pipe, prompts, seed, device):
    import torch

    gen = torch.Generator(device).manual_seed(seed)
    return pipe(prompt=prompts, generator=gen, output_type="np", show_progress=False, output="images")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", help="a folder in diffusers layout (default: the shipped weights)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sheet", help="write a PNG contact sheet here")
    args = parser.parse_args()

    import numpy as np
    from diffblocks import get_block
    from diffblocks_shapes.data import COLOURS, SHAPES
    from diffblocks_shapes.quality import contact_sheet, score

    pipe = get_block("shapes.text2img").init_pipeline()
    if args.weights:
        pipe.load_components(args.weights)
    pipe.to(args.device)
    prompts = [f"a {c} {s}" for c in COLOURS for s in SHAPES]
    start = time.perf_counter()
    images, all_prompts = [], []
    for seed in args.seeds:
        arrays = generate(pipe, prompts, seed, args.device)
        images += [(a * 255).round().astype(np.uint8) for a in arrays]
        all_prompts += prompts
    seconds = time.perf_counter() - start
    result = score(images, all_prompts)
    result["seconds_per_image"] = seconds / len(images)
    if args.sheet:
        from PIL import Image

        Image.fromarray(contact_sheet(images, columns=len(prompts))).save(args.sheet)
        result["sheet"] = args.sheet
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
