"""The SD workflows: text-to-image, image-to-image, inpainting, and one that picks by its inputs."""

from __future__ import annotations

from diffblocks import AutoPipelineBlocks, SequentialPipelineBlocks

from .decode import DecodeStep
from .denoise import DenoiseLoop, InpaintDenoiseLoop
from .encode import InputStep, TextEncoderStep
from .prepare import (
    Img2ImgPrepareLatentsStep,
    Img2ImgSetTimestepsStep,
    InpaintPrepareStep,
    InpaintSetTimestepsStep,
    PrepareLatentsStep,
    SetTimestepsStep,
    VaeEncoderStep,
)


class Text2ImgBlocks(SequentialPipelineBlocks):
    model_name = "sd"
    block_classes = [
        TextEncoderStep,
        InputStep,
        SetTimestepsStep,
        PrepareLatentsStep,
        DenoiseLoop,
        DecodeStep,
    ]
    block_names = ["text_encoder", "input", "set_timesteps", "prepare_latents", "denoise", "decode"]
    description = "Stable Diffusion text-to-image."


class Img2ImgBlocks(SequentialPipelineBlocks):
    model_name = "sd"
    block_classes = [
        TextEncoderStep,
        InputStep,
        Img2ImgSetTimestepsStep,
        VaeEncoderStep,
        Img2ImgPrepareLatentsStep,
        DenoiseLoop,
        DecodeStep,
    ]
    block_names = [
        "text_encoder",
        "input",
        "set_timesteps",
        "vae_encoder",
        "prepare_latents",
        "denoise",
        "decode",
    ]
    description = "Stable Diffusion image-to-image: noise the input image to `strength`, then denoise."


class InpaintBlocks(SequentialPipelineBlocks):
    model_name = "sd"
    block_classes = [
        TextEncoderStep,
        InputStep,
        InpaintSetTimestepsStep,
        InpaintPrepareStep,
        InpaintDenoiseLoop,
        DecodeStep,
    ]
    block_names = ["text_encoder", "input", "set_timesteps", "inpaint_prepare", "denoise", "decode"]
    description = "Stable Diffusion inpainting: repaint where mask_image is white."


class AutoBlocks(AutoPipelineBlocks):
    model_name = "sd"
    block_classes = [InpaintBlocks, Img2ImgBlocks, Text2ImgBlocks]
    block_names = ["inpaint", "img2img", "text2img"]
    block_trigger_inputs = ["mask_image", "image", None]
    description = (
        "Inpainting when mask_image is given, image-to-image when image is given, else text-to-image."
    )
