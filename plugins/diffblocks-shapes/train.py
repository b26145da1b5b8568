"""Train the shapes model (seeded, reproducible). Writes diffusers-layout weights (safetensors).

    python plugins/diffblocks-shapes/train.py --out plugins/diffblocks-shapes/src/diffblocks_shapes/weights \
        --steps 10000 --device cuda

Runs on CPU too (slowly). Data are rendered on the fly by diffblocks_shapes.data.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent / "src"))

from diffblocks_shapes.data import COLOURS, SHAPES, batch, caption  # noqa: E402
from diffblocks_shapes.model import CaptionEncoder, make_unet  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--max-minutes", type=float, default=8.0)
    parser.add_argument(
        "--cond-drop", type=float, default=0.1, help="fraction of empty captions (for guidance)"
    )
    args = parser.parse_args()

    from diffusers import DDPMScheduler, DPMSolverMultistepScheduler

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    cpu_gen = torch.Generator().manual_seed(args.seed + 1)
    unet, encoder = make_unet().to(device), CaptionEncoder().to(device)
    ema_unet, ema_encoder = copy.deepcopy(unet).eval(), copy.deepcopy(encoder).eval()
    params = list(unet.parameters()) + list(encoder.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    warmup = 300
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))
        ),
    )
    noise_sched = DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="epsilon",
        clip_sample=True,
    )
    alphas = noise_sched.alphas_cumprod.to(device)
    use_amp = device.type == "cuda"
    start, step, log = time.time(), 0, []
    for step in range(1, args.steps + 1):
        images, captions = batch(args.batch, gen, device)
        drop = torch.rand(args.batch, generator=cpu_gen) < args.cond_drop
        captions = ["" if d else c for c, d in zip(captions, drop.tolist())]
        t = torch.randint(0, 1000, (args.batch,), generator=gen, device=device)
        noise = torch.randn(images.shape, generator=gen, device=device)
        a = alphas[t][:, None, None, None]
        noisy = a.sqrt() * images + (1 - a).sqrt() * noise
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            context = encoder(encoder.tokenize(captions))
            pred = unet(noisy, t, encoder_hidden_states=context, return_dict=False)[0]
            loss = torch.nn.functional.mse_loss(pred.float(), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for ema, live in ((ema_unet, unet), (ema_encoder, encoder)):
                for pe, pl in zip(ema.parameters(), live.parameters()):
                    pe.lerp_(pl, 1 - decay)
        if step % 250 == 0 or step == 1:
            elapsed = time.time() - start
            log.append({"step": step, "loss": round(loss.item(), 5), "seconds": round(elapsed, 1)})
            print(json.dumps(log[-1]), flush=True)
            if elapsed > args.max_minutes * 60:
                print(f"stopping at step {step}: time budget reached", flush=True)
                break
    out = Path(args.out)
    ema_unet.to("cpu", torch.float32).save_pretrained(out / "unet")
    ema_encoder.to("cpu", torch.float32).save_pretrained(out / "text_encoder")
    # Pixel-space sampling: threshold x0 to the data range. Without it, DPM-Solver's first x0 estimate
    # under the cosine schedule (alpha ~ 0 at t=999) explodes into saturated noise.
    DPMSolverMultistepScheduler.from_config(
        noise_sched.config, thresholding=True, sample_max_value=1.0
    ).save_pretrained(out / "scheduler")
    (out / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "ShapesPipeline",
                "_diffblocks_family": "shapes",
                "unet": ["diffusers", "UNet2DConditionModel"],
                "text_encoder": ["diffblocks_shapes.model", "CaptionEncoder"],
                "scheduler": ["diffusers", "DPMSolverMultistepScheduler"],
                "training": {
                    "steps": step,
                    "batch": args.batch,
                    "lr": args.lr,
                    "seed": args.seed,
                    "final_loss": log[-1]["loss"] if log else None,
                    "captions": [caption(c, s) for c in COLOURS for s in SHAPES],
                },
            },
            indent=2,
        )
    )
    print(f"saved to {out} after {step} steps in {time.time() - start:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
