"""The procedural data set: one shape of one colour at a random place and size, captioned
"a {colour} {shape}". Rendered with torch so it runs on CPU or GPU, seeded."""

from __future__ import annotations

import torch

COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.9, 0.1, 0.1),
    "green": (0.1, 0.8, 0.2),
    "blue": (0.15, 0.25, 0.95),
    "yellow": (0.95, 0.85, 0.1),
}
SHAPES = ("circle", "square", "triangle")
BACKGROUND = (0.05, 0.05, 0.05)
SIZE = 32


def caption(colour: str, shape: str) -> str:
    return f"a {colour} {shape}"


def render(
    colour_idx: torch.Tensor,
    shape_idx: torch.Tensor,
    generator: torch.Generator | None = None,
    size: int = SIZE,
) -> torch.Tensor:
    """Images in [-1, 1], shape (N, 3, size, size), for the given colour and shape indices."""
    n = colour_idx.shape[0]
    device = colour_idx.device
    half = torch.randint(
        5, 12, (n,), generator=generator, device=device
    ).float()  # half side length in pixels
    lo, hi = half + 1, size - half - 1
    cx = lo + torch.rand(n, generator=generator, device=device) * (hi - lo)
    cy = lo + torch.rand(n, generator=generator, device=device) * (hi - lo)
    ys, xs = torch.meshgrid(
        torch.arange(size, device=device).float() + 0.5,
        torch.arange(size, device=device).float() + 0.5,
        indexing="ij",
    )
    dx = xs[None] - cx[:, None, None]
    dy = ys[None] - cy[:, None, None]
    h = half[:, None, None]
    circle = dx**2 + dy**2 <= h**2
    square = (dx.abs() <= h) & (dy.abs() <= h)
    # isosceles triangle, apex up: inside when |dx| <= (dy + h) / 2 within the bounding box
    triangle = (dy >= -h) & (dy <= h) & (dx.abs() <= (dy + h) / 2)
    masks = torch.stack([circle, square, triangle], dim=1)  # (N, 3, H, W)
    mask = masks[torch.arange(n, device=device), shape_idx].float()[:, None]
    palette = torch.tensor(list(COLOURS.values()), device=device)
    fg = palette[colour_idx][:, :, None, None]
    bg = torch.tensor(BACKGROUND, device=device)[None, :, None, None]
    image = mask * fg + (1 - mask) * bg
    return image * 2 - 1


def batch(
    n: int, generator: torch.Generator, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, list[str]]:
    """A random batch: images and their captions."""
    colour_idx = torch.randint(0, len(COLOURS), (n,), generator=generator, device=device)
    shape_idx = torch.randint(0, len(SHAPES), (n,), generator=generator, device=device)
    images = render(colour_idx, shape_idx, generator)
    names = list(COLOURS)
    captions = [caption(names[c], SHAPES[s]) for c, s in zip(colour_idx.tolist(), shape_idx.tolist())]
    return images, captions
