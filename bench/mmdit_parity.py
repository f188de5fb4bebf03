"""Parity of bench/mmdit_torch_gpu.py's PyTorch MMDiT twin with silt, on the
CPU, with the same random weights: `bench_mmdit_gpu --dump DIR [--qk]` writes
a tiny random model (depth 3, hidden 64 = 4 heads of 16; mmdit_save, diffusers
names), inputs, and silt's outputs of block 0 (both streams), of the
context_pre_only last block and of the full forward (32 image + 10 text
tokens, batch 2); this script loads the weights into the twin, runs it in
float64 and float32, and requires, for each output,

    max|silt - torch| / max|torch| < 1e-4     (torch in float64)

for the SD3-medium form (no QK-norm) and the SD3.5 form (--qk: QK RMS-norm).
When diffusers is importable it also runs diffusers' own
SD3Transformer2DModel / JointTransformerBlock (float64) on the same weights
(from the file's "config" metadata) and requires the same of the twin against
it. Needs torch only (diffusers optional); no GPU.

    python bench/mmdit_parity.py [--bin build/bench_mmdit_gpu] [--keep DIR]
Exit 0 when every check passes, 1 otherwise (2: torch missing).
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-4


def load_twin():
    spec = importlib.util.spec_from_file_location("mmdit_torch_gpu", os.path.join(HERE, "mmdit_torch_gpu.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def err(got, ref):
    g, r = got.double(), ref.double()
    return ((g - r).abs().max() / r.abs().max()).item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "bench_mmdit_gpu"))
    ap.add_argument("--keep", help="write the dumps here instead of a temporary directory")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("mmdit_parity: torch not importable")
        return 2
    torch.set_num_threads(1)
    twin = load_twin()
    JointBlock, SD3 = twin.make_classes(torch)
    try:
        import diffusers
        from diffusers.models.attention import JointTransformerBlock
    except Exception:  # any import failure: diffusers is optional
        diffusers = None
    ok = True
    root = a.keep or tempfile.mkdtemp(prefix="mmdit_parity_")
    for qk in (False, True):
        d = os.path.join(root, "qk" if qk else "sd3")
        os.makedirs(d, exist_ok=True)
        r = subprocess.run([a.bin, "--dump", d] + (["--qk"] if qk else []), capture_output=True, text=True)
        if r.returncode != 0:
            print(f"mmdit_parity: {a.bin} --dump failed ({r.returncode}): {r.stderr.strip()}")
            return 1
        sd, meta = twin.read_safetensors(os.path.join(d, "model.safetensors"), torch)
        io, _ = twin.read_safetensors(os.path.join(d, "io.safetensors"), torch)
        cfg = json.loads(meta["config"])
        kw = dict(depth=cfg["num_layers"], heads=cfg["num_attention_heads"], head_dim=cfg["attention_head_dim"],
                  patch=cfg["patch_size"], in_channels=cfg["in_channels"], out_channels=cfg["out_channels"],
                  joint_dim=cfg["joint_attention_dim"], pooled_dim=cfg["pooled_projection_dim"],
                  pos_max=cfg["pos_embed_max_size"], qk_norm=bool(cfg.get("qk_norm")))
        name = "SD3.5 form (QK RMS-norm)" if qk else "SD3-medium form (no QK-norm)"
        print(f"{name}: depth {kw['depth']}, hidden {kw['heads'] * kw['head_dim']} = {kw['heads']} heads of "
              f"{kw['head_dim']}, x {tuple(io['block.x'].shape)}, ctx {tuple(io['block.ctx'].shape)}")
        outs = {}
        for dt in (torch.float64, torch.float32):
            m = SD3(**kw)
            m.load_state_dict(sd, strict=True)
            m = m.to(dt).eval()
            x, c, temb = io["block.x"].to(dt), io["block.ctx"].to(dt), io["block.temb"].to(dt)
            with torch.no_grad():
                x0, c0 = m.transformer_blocks[0](x, c, temb)
                xl, cl = m.transformer_blocks[-1](x, c, temb)
                assert cl is None
                y = m(io["full.x"].to(dt), io["full.t"], io["full.enc"].to(dt), io["full.pooled"].to(dt))
            outs[dt] = {"block0.out_x": x0, "block0.out_ctx": c0, "block_last.out_x": xl, "full.out": y}
        for k, ref in outs[torch.float64].items():
            e64, e32 = err(io[k], ref), err(io[k], outs[torch.float32][k])
            good = e64 < TOL
            ok &= good
            print(f"  silt vs twin  {k:<18} max|d|/max|ref| {e64:.2e} (twin fp64), {e32:.2e} (twin fp32)  "
                  f"{'ok' if good else 'FAILED (limit 1e-4)'}")
        if diffusers is None:
            print("  diffusers not importable: twin vs diffusers skipped")
            continue
        # diffusers on the same weights: the full model from the saved config, and its blocks.
        dm = diffusers.SD3Transformer2DModel.from_config(cfg)
        missing, unexpected = dm.load_state_dict(sd, strict=False)
        if missing or unexpected:
            print(f"  diffusers state dict: missing {missing}, unexpected {unexpected}")
            ok = False
            continue
        dm = dm.double().eval()
        assert isinstance(dm.transformer_blocks[0], JointTransformerBlock)
        x, c, temb = io["block.x"].double(), io["block.ctx"].double(), io["block.temb"].double()
        with torch.no_grad():
            dc0, dx0 = dm.transformer_blocks[0](x, c, temb)  # returns (encoder_hidden_states, hidden_states)
            _, dxl = dm.transformer_blocks[-1](x, c, temb)
            dy = dm(hidden_states=io["full.x"].double(), encoder_hidden_states=io["full.enc"].double(),
                    pooled_projections=io["full.pooled"].double(), timestep=io["full.t"]).sample
        dref = {"block0.out_x": dx0, "block0.out_ctx": dc0, "block_last.out_x": dxl, "full.out": dy}
        for k, ref in dref.items():
            et, es = err(outs[torch.float64][k], ref), err(io[k], ref)
            good = et < TOL
            ok &= good
            print(f"  twin vs diffusers {diffusers.__version__} {k:<18} {et:.2e}  (silt vs diffusers {es:.2e})  "
                  f"{'ok' if good else 'FAILED (limit 1e-4)'}")
    print("mmdit_parity:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
