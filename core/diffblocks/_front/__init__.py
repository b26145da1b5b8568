"""Front-end helpers shared by the CLI, batch and serve (the top layer: may import any layer below)."""
