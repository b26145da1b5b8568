"""How diffusers' names become diffblocks names (shared by the plugin and the sync script)."""

from __future__ import annotations

import re

#: Every block this plugin registers lives under this namespace.
NAMESPACE = "diffusers"
#: The name of a family's top-level auto preset.
AUTO = "auto"


def family_name(model_name: str) -> str:
    """diffusers' model name, lowercased, every character outside ``[a-z0-9]`` replaced by ``_``.

    >>> family_name("stable-diffusion-xl"), family_name("ltx2.5")
    ('stable_diffusion_xl', 'ltx2_5')
    """
    return re.sub(r"[^a-z0-9]", "_", model_name.lower())


def block_name(family: str, name: str) -> str:
    """The registered block name: ``diffusers.<family>.<name>``."""
    return f"{NAMESPACE}.{family}.{name}"


def family_key(family: str) -> str:
    """The name the family is registered under in diffblocks (``diffusers.<family>``)."""
    return f"{NAMESPACE}.{family}"


def camel(name: str) -> str:
    """``stable_diffusion_xl`` -> ``StableDiffusionXl`` (for generated class names)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)
