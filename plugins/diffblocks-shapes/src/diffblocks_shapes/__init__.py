"""diffblocks-shapes: a tiny text-to-image model of coloured shapes that runs offline on CPU."""

from pathlib import Path

WEIGHTS = Path(__file__).parent / "weights"
