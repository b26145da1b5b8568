"""The caption encoder (a learned embedding over the caption vocabulary) and the UNet's shape."""

from __future__ import annotations

import torch
from diffusers import ConfigMixin, ModelMixin, UNet2DConditionModel
from diffusers.configuration_utils import register_to_config

from .data import COLOURS, SHAPES, SIZE

VOCAB = ["<pad>", "a", *COLOURS, *SHAPES]
MAX_TOKENS = 4


class CaptionEncoder(ModelMixin, ConfigMixin):
    """Tokenizes captions by whole words and embeds them (plus a position embedding).

    Unknown words map to ``<pad>``; the empty prompt (all ``<pad>``) is the unconditional input
    used for classifier-free guidance. Saved and loaded with diffusers' safetensors format.
    """

    @register_to_config
    def __init__(self, vocab: list[str] = VOCAB, dim: int = 64, max_tokens: int = MAX_TOKENS) -> None:
        super().__init__()
        self.index = {w: i for i, w in enumerate(vocab)}
        self.tokens = torch.nn.Embedding(len(vocab), dim)
        self.positions = torch.nn.Parameter(torch.zeros(max_tokens, dim))
        self.norm = torch.nn.LayerNorm(dim)

    def tokenize(self, prompts: list[str]) -> torch.Tensor:
        ids = torch.zeros(len(prompts), self.config.max_tokens, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            words = prompt.lower().replace(",", " ").split()[: self.config.max_tokens]
            for col, word in enumerate(words):
                ids[row, col] = self.index.get(word, 0)
        return ids.to(self.tokens.weight.device)

    def unknown_words(self, prompt: str) -> list[str]:
        return [w for w in prompt.lower().replace(",", " ").split() if w not in self.index]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.norm(self.tokens(ids) + self.positions[None, : ids.shape[1]])


def make_unet(dim: int = 64) -> UNet2DConditionModel:
    return UNet2DConditionModel(
        sample_size=SIZE,
        in_channels=3,
        out_channels=3,
        layers_per_block=1,
        block_out_channels=(32, 64, 96),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=dim,
        attention_head_dim=8,
        norm_num_groups=16,
    )
