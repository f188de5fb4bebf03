#!/usr/bin/env python3
"""End-to-end parity of `gen generate` with diffusers' pipelines on the tiny
golden checkpoints (tests/golden): gen writes its initial noise and final
latent (--save-latents), the diffusers pipeline runs from the same noise, and
the final latents are compared (max|diff| <= 1e-4 max|ref|).

  DiTPipeline              DDIM (linear betas, unclipped), g = 4, class 3
  StableDiffusion3Pipeline flow Euler shift 3, g = 7, embeddings from tests/cli/data
  StableDiffusion3PAGPipeline  the same + PAG s = 3 on blocks.1 (gen: --guidance pag --heads 1,
                           whole layer on MMDiT = diffusers' image-image identity)

    /work/venv-ref/bin/python tools/check_txt2img_parity.py build/gen [--steps 6]

Needs torch + diffusers (the reference venv); not a ctest. DiTPipeline hard-codes
the null class 1000; the tiny model's is 10, so its __call__ is re-read with that
one constant changed.
"""
import argparse
import inspect
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import diffusers
import diffusers.pipelines.dit.pipeline_dit as pipeline_dit
from diffusers import (AutoencoderKL, DDIMScheduler, DiTPipeline, DiTTransformer2DModel,
                       FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3PAGPipeline,
                       StableDiffusion3Pipeline)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
G = os.path.join(ROOT, "tests", "golden")
EMBEDS = os.path.join(ROOT, "tests", "cli", "data", "sd3_text_embeds.safetensors")


def load(cls, name):
    path = os.path.join(G, name)
    with safe_open(path, "pt") as f:
        cfg = {k: v for k, v in json.loads(f.metadata()["config"]).items() if not k.startswith("_")}
    m = cls.from_config(cfg)
    m.load_state_dict(load_file(path))
    return m.eval()


def run_gen(gen, args, tmp, tag):
    lat = os.path.join(tmp, tag + ".safetensors")
    subprocess.run([gen, *args, "-q", "--save-latents", lat, "-o", os.path.join(tmp, tag + ".png")], check=True)
    t = load_file(lat)
    return t["noise"], t["latent"].numpy()


def report(tag, ours, ref):
    d = float(np.abs(ours - ref).max())
    m = float(np.abs(ref).max())
    ok = d <= 1e-4 * m
    print(f"{'ok  ' if ok else 'FAIL'} {tag:10s} max|diff| {d:.3g}  max|ref| {m:.3g}  rel {d / m:.3g}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gen")
    ap.add_argument("--steps", type=int, default=6)
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    print(f"diffusers {diffusers.__version__}, torch {torch.__version__}")
    ok = True
    steps = str(a.steps)
    with tempfile.TemporaryDirectory() as tmp:
        # DiT
        noise, ours = run_gen(a.gen, ["--model", os.path.join(G, "dit_diffusers.model.safetensors"), "--vae",
                                      os.path.join(G, "vae_sd.model.safetensors"), "--class", "3", "--steps", steps],
                              tmp, "dit")
        src = textwrap.dedent(inspect.getsource(DiTPipeline.__call__)).replace("[1000]", "[10]")
        ns = dict(vars(pipeline_dit))
        ns["randn_tensor"] = lambda *x, **k: noise.clone()
        exec(src, ns)
        pipe = DiTPipeline(transformer=load(DiTTransformer2DModel, "dit_diffusers.model.safetensors"),
                           vae=load(AutoencoderKL, "vae_sd.model.safetensors"),
                           scheduler=DDIMScheduler(beta_schedule="linear", beta_start=1e-4, beta_end=0.02,
                                                   clip_sample=False))
        captured = {}
        orig_decode = pipe.vae.decode

        def decode(z, *x, **k):  # the pipeline's latent, before 1/scaling_factor
            captured["z"] = z.clone()
            return orig_decode(z, *x, **k)

        pipe.vae.decode = decode
        ns["__call__"](pipe, class_labels=[3], guidance_scale=4.0, num_inference_steps=a.steps, output_type="np")
        ref = captured["z"].numpy() * pipe.vae.config.scaling_factor
        ok &= report("dit cfg", ours, ref)

        # SD3 with and without PAG
        te = load_file(EMBEDS)
        tr = load(SD3Transformer2DModel, "mmdit_diffusers.model.safetensors")
        vae3 = load(AutoencoderKL, "vae_sd3.model.safetensors")
        base = ["--model", os.path.join(G, "mmdit_diffusers.model.safetensors"), "--vae",
                os.path.join(G, "vae_sd3.model.safetensors"), "--text-embeds", EMBEDS, "--steps", steps]
        for tag, cls, extra, kw, init in [
            ("sd3 cfg", StableDiffusion3Pipeline, [], {}, {}),
            ("sd3 pag", StableDiffusion3PAGPipeline, ["--guidance", "pag", "--heads", "1", "--pag-scale", "3"],
             {"pag_scale": 3.0}, {"pag_applied_layers": ["blocks.1"]}),
        ]:
            noise, ours = run_gen(a.gen, base + extra, tmp, tag.replace(" ", "_"))
            p = cls(transformer=tr, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), vae=vae3,
                    text_encoder=None, tokenizer=None, text_encoder_2=None, tokenizer_2=None, text_encoder_3=None,
                    tokenizer_3=None, **init)
            ref = p(prompt_embeds=te["prompt_embeds"], pooled_prompt_embeds=te["pooled_prompt_embeds"],
                    negative_prompt_embeds=te["negative_prompt_embeds"],
                    negative_pooled_prompt_embeds=te["negative_pooled_prompt_embeds"], latents=noise,
                    num_inference_steps=a.steps, height=16, width=16, guidance_scale=7.0, output_type="latent",
                    **kw).images.numpy()
            ok &= report(tag, ours, ref)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
