"""CPU time per image of the shipped shapes model through diffblocks, against a bare loop over the
same components, in one process.

Run: python benchmarks/shapes_cpu.py  (--smoke: one image of 2 steps each way, to check that it runs)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch


def bare(pipe, prompt: str, seed: int, steps: int = 20, guidance: float = 4.0):
    """The same sampling written by hand: encode, guided loop, clamp."""
    enc, unet, sched = pipe.text_encoder, pipe.unet, pipe.scheduler
    with torch.no_grad():
        context = torch.cat([enc(enc.tokenize([""])), enc(enc.tokenize([prompt]))])
        sched.set_timesteps(steps)
        x = (
            torch.randn((1, 3, 32, 32), generator=torch.Generator().manual_seed(seed))
            * sched.init_noise_sigma
        )
        for t in sched.timesteps:
            uncond, cond = unet(
                sched.scale_model_input(torch.cat([x, x]), t),
                t,
                encoder_hidden_states=context,
                return_dict=False,
            )[0].chunk(2)
            x = sched.step(uncond + guidance * (cond - uncond), t, x, return_dict=False)[0]
    return ((x.clamp(-1, 1) + 1) / 2)[0].permute(1, 2, 0).numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script, not the speed")
    smoke = parser.parse_args(argv).smoke
    steps, seeds = (2, 1) if smoke else (20, 7)
    from diffblocks import get_block

    pipe = get_block("shapes.text2img").init_pipeline()

    def ours(seed: int):
        return pipe(
            prompt="a red circle",
            generator=torch.Generator().manual_seed(seed),
            num_inference_steps=steps,
            output_type="np",
            show_progress=False,
            output="images",
        )[0]

    ours(0), bare(pipe, "a red circle", 0, steps)  # warm-up
    t_ours, t_bare = [], []
    for seed in range(seeds):
        for fn, sink in (
            (lambda s=seed: ours(s), t_ours),
            (lambda s=seed: bare(pipe, "a red circle", s, steps), t_bare),
        ):
            start = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - start)
    a, b = statistics.median(t_ours), statistics.median(t_bare)
    print(f"torch threads     : {torch.get_num_threads()}")
    print(f"diffblocks        : {a:.3f} s/image ({steps} steps, guidance 4)")
    print(f"bare loop         : {b:.3f} s/image")
    print(f"ratio             : {a / b:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
