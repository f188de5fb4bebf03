#!/usr/bin/env python3
"""Writes tests/cli/data/sd3_text_embeds.safetensors: random text embeddings in
the layout `gen --text-embeds` reads (what diffusers' StableDiffusion3Pipeline
.encode_prompt returns), sized for the tiny golden MMDiT
(tests/golden/mmdit_diffusers: joint_attention_dim 24, pooled_projection_dim 16).

    prompt_embeds                  (1, T, joint_dim)  F32
    pooled_prompt_embeds           (1, pooled_dim)    F32
    negative_prompt_embeds         (1, T, joint_dim)  F32
    negative_pooled_prompt_embeds  (1, pooled_dim)    F32

    /work/venv-ref/bin/python tools/make_test_text_embeds.py [--out PATH] [--tokens 5]
"""
import argparse

import numpy as np
from safetensors.numpy import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/cli/data/sd3_text_embeds.safetensors")
    ap.add_argument("--tokens", type=int, default=5)
    ap.add_argument("--joint-dim", type=int, default=24)
    ap.add_argument("--pooled-dim", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    t = {
        "prompt_embeds": rng.standard_normal((1, a.tokens, a.joint_dim)),
        "pooled_prompt_embeds": rng.standard_normal((1, a.pooled_dim)),
        # diffusers encodes the empty negative prompt; any fixed vector does here.
        "negative_prompt_embeds": 0.1 * rng.standard_normal((1, a.tokens, a.joint_dim)),
        "negative_pooled_prompt_embeds": 0.1 * rng.standard_normal((1, a.pooled_dim)),
    }
    t = {k: v.astype(np.float32) for k, v in t.items()}
    save_file(t, a.out, metadata={"prompt": "a red circle left of a blue square (random embeddings)",
                                  "generator": "tools/make_test_text_embeds.py"})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
