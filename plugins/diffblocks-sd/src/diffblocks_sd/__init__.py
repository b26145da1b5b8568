"""diffblocks-sd: Stable Diffusion blocks on diffusers models and schedulers."""
