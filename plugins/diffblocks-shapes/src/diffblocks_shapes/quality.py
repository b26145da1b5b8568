"""Independent quality check: classify a picture by plain image analysis, not with the model.

background = most common border colour; object = pixels that differ from it; colour = nearest
named hue of the object's mean colour; shape = fill ratio of the object's bounding box
(circle ~0.79, square ~1.0, triangle ~0.5).
"""

from __future__ import annotations

import colorsys
from collections import Counter

import numpy as np

HUES = {"red": 0.0, "yellow": 60.0, "green": 120.0, "blue": 235.0}
FILL = {"circle": np.pi / 4, "square": 1.0, "triangle": 0.5}


def classify(image: np.ndarray, threshold: float = 60.0) -> tuple[str | None, str | None, float]:
    """(colour, shape, fill ratio) of an RGB uint8 image; (None, None, 0) when no object is found."""
    img = np.asarray(image).astype(np.float32)[..., :3]
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    quantized = [tuple(int(v) // 16 for v in px) for px in border]
    key = Counter(quantized).most_common(1)[0][0]
    background = border[[q == key for q in quantized]].mean(axis=0)
    obj = np.linalg.norm(img - background, axis=-1) > threshold
    if obj.sum() < 4:
        return None, None, 0.0
    ys, xs = np.nonzero(obj)
    box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    fill = float(obj.sum() / box)
    r, g, b = img[obj].mean(axis=0) / 255.0
    hue = colorsys.rgb_to_hsv(r, g, b)[0] * 360.0
    colour = min(HUES, key=lambda c: min(abs(hue - HUES[c]), 360 - abs(hue - HUES[c])))
    shape = min(FILL, key=lambda s: abs(fill - FILL[s]))
    return colour, shape, fill


def score(images: list[np.ndarray], prompts: list[str]) -> dict[str, float]:
    """Fractions of pictures whose colour and shape match their prompt ("a {colour} {shape}")."""
    colour_ok = shape_ok = 0
    for image, prompt in zip(images, prompts):
        _, want_colour, want_shape = prompt.split()
        colour, shape, _ = classify(image)
        colour_ok += colour == want_colour
        shape_ok += shape == want_shape
    n = max(len(images), 1)
    return {"colour": colour_ok / n, "shape": shape_ok / n, "n": float(len(images))}


def contact_sheet(images: list[np.ndarray], columns: int, scale: int = 4, gap: int = 2) -> np.ndarray:
    """A grid of the images (each scaled up), as one uint8 array."""
    h, w = images[0].shape[:2]
    rows = (len(images) + columns - 1) // columns
    sheet = np.full(
        (rows * (h * scale + gap) + gap, columns * (w * scale + gap) + gap, 3), 255, dtype=np.uint8
    )
    for k, im in enumerate(images):
        r, c = divmod(k, columns)
        big = np.kron(np.asarray(im)[..., :3], np.ones((scale, scale, 1), dtype=np.uint8))
        y, x = gap + r * (h * scale + gap), gap + c * (w * scale + gap)
        sheet[y : y + h * scale, x : x + w * scale] = big
    return sheet
