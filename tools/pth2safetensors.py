#!/usr/bin/env python3
"""Convert a PyTorch checkpoint (.pth / .pt state_dict) to safetensors, keeping
every key name, dtype and value as it is.

silt never parses pickles (DESIGN.md, "Checkpoints"), so official checkpoints
such as FoundationVision/VAR's var_d16.pth and vae_ch160v4096z32.pth are
converted once with this script, on a machine with PyTorch:

    python tools/pth2safetensors.py var_d16.pth var_d16.safetensors
    python tools/pth2safetensors.py vae_ch160v4096z32.pth vae_ch160v4096z32.safetensors

The file is read with torch.load(map_location="cpu", weights_only=True), which
refuses arbitrary pickled objects. The result must be a flat mapping from names
to tensors; a checkpoint that wraps its state_dict (e.g. {"model": {...},
"epoch": 3}) is refused with the list of non-tensor entries, and --key model
picks the sub-dictionary. Buffers (VAR's lvl_1L, attn_bias_for_masking, the
VQ-VAE's ema_vocab_hit_SV) are kept: silt's loaders read or skip them by name.

Options:
  --key NAME        convert checkpoint[NAME] (dotted path for nesting: a.b)
  --config JSON     store JSON (an object) as the "config" metadata entry, for
                    settings a loader cannot read from tensor shapes
  --dtype {keep,f32,f16,bf16}
                    cast floating-point tensors (integers are never cast);
                    default keep
  --force           overwrite an existing output file

Needs: torch and safetensors (pip install torch safetensors).
"""

import argparse
import json
import os
import sys


def fail(msg):
    print(f"pth2safetensors: error: {msg}", file=sys.stderr)
    sys.exit(1)


def pick(obj, key):
    for part in key.split("."):
        if not isinstance(obj, dict) or part not in obj:
            have = ", ".join(map(str, list(obj)[:10])) if isinstance(obj, dict) else type(obj).__name__
            fail(f"--key {key}: no entry '{part}' (have: {have})")
        obj = obj[part]
    return obj


def to_tensor_dict(obj, torch):
    """Validates that obj is a flat {str: Tensor} mapping; returns it as a dict."""
    if not isinstance(obj, dict):
        fail(f"the checkpoint holds a {type(obj).__name__}, not a state_dict (a mapping of names to tensors)")
    bad = [(k, type(v).__name__) for k, v in obj.items() if not (isinstance(k, str) and torch.is_tensor(v))]
    if bad:
        listing = ", ".join(f"'{k}' ({t})" for k, t in bad[:8]) + (f" and {len(bad) - 8} more" if len(bad) > 8 else "")
        dicts = [k for k, v in obj.items() if isinstance(v, dict)]
        hint = f"; to convert a nested state_dict pass --key {dicts[0]}" if dicts else ""
        fail(f"the checkpoint has {len(bad)} non-tensor entries: {listing}{hint}")
    if not obj:
        fail("the checkpoint holds no tensors")
    return dict(obj)


def convert(src, dst, key=None, config=None, dtype="keep", force=False):
    import torch
    from safetensors.torch import save_file

    if os.path.exists(dst) and not force:
        fail(f"{dst} exists (pass --force to overwrite)")
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # the message names the offending pickle global
        fail(f"cannot load {src} with weights_only=True: {e}")
    if key:
        obj = pick(obj, key)
    sd = to_tensor_dict(obj, torch)

    casts = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
    out, seen = {}, {}
    for name, t in sd.items():
        t = t.detach()
        if t.is_sparse or t.layout != torch.strided:
            fail(f"tensor '{name}' is not a dense tensor ({t.layout})")
        if dtype != "keep" and t.is_floating_point():
            t = t.to(casts[dtype])
        t = t.contiguous()
        # safetensors refuses tensors that share storage (tied weights): copy them.
        ptr = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else None
        if ptr is not None and ptr in seen:
            t = t.clone()
        elif ptr is not None:
            seen[ptr] = name
        out[name] = t

    meta = None
    if config is not None:
        try:
            parsed = json.loads(config)
        except json.JSONDecodeError as e:
            fail(f"--config is not valid JSON: {e}")
        if not isinstance(parsed, dict):
            fail("--config must be a JSON object")
        meta = {"config": json.dumps(parsed, sort_keys=True)}

    tmp = dst + ".tmp"
    save_file(out, tmp, metadata=meta)
    os.replace(tmp, dst)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="input .pth / .pt")
    ap.add_argument("dst", help="output .safetensors")
    ap.add_argument("--key", help="convert this entry of the checkpoint (dotted path)")
    ap.add_argument("--config", help="JSON object stored as the 'config' metadata")
    ap.add_argument("--dtype", choices=["keep", "f32", "f16", "bf16"], default="keep")
    ap.add_argument("--force", action="store_true", help="overwrite dst")
    a = ap.parse_args()
    out = convert(a.src, a.dst, key=a.key, config=a.config, dtype=a.dtype, force=a.force)
    n = sum(t.numel() for t in out.values())
    print(f"{a.dst}: {len(out)} tensors, {n:,} values")


if __name__ == "__main__":
    main()
