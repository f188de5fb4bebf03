#!/usr/bin/env python3
"""Golden data for silt issue 3: DiT, SD3 MMDiT, SD/SD3 VAE, PAG and head-level identity.

Builds TINY random-weight models with the reference PyTorch code (diffusers, and
facebookresearch/DiT models.py for the original DiT layout), runs their forward
passes and writes, per case, into tests/golden/:

  <case>.model.safetensors  the state_dict under the real key names (fp32);
                            __metadata__: config (JSON), reference, layout, format
  <case>.io.safetensors     inputs and outputs (fp32; labels/heads int32);
                            __metadata__: tolerance, description, reference, ...

Reference outputs are computed with the model cast to float64 (the stored fp32
weights are exact in fp64) and rounded to fp32, so they carry no fp32
accumulation error of their own. Parts the reference code computes in fp32
whatever the model dtype (the timestep sinusoid, RMSNorm's variance) stay fp32,
as in the reference. Each io file records `fp32_torch_rel_err`: how far the same
torch model run in plain fp32 lands from the stored output
(max|out32 - ref| / max|ref|, worst tensor), to calibrate the tolerance.

Every weight is randomised (normal; matrices std clamp(fan_in^-1/2, 0.02, 0.2),
biases std 0.05, norm scales 1 + 0.1 N), because diffusers and DiT zero-initialise
adaLN / gates / output projections and a zero weight hides bugs.

Usage (see tests/golden/README.md):
  /work/venv-ref/bin/python tests/golden/make_golden_models.py --dit-repo /tmp/DiT
where /tmp/DiT/models.py is facebookresearch/DiT@ed81ce2 models.py (needs timm).
"""

import argparse
import copy
import hashlib
import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

import diffusers
import safetensors
from safetensors.torch import load_file, save_file
from diffusers import AutoencoderKL, DiTTransformer2DModel, SD3Transformer2DModel
from diffusers.loaders.single_file_utils import (
    convert_ldm_vae_checkpoint,
    convert_sd3_transformer_checkpoint_to_diffusers,
    swap_scale_shift,
)
from diffusers.models.attention_processor import (
    PAGCFGJointAttnProcessor2_0,
    PAGJointAttnProcessor2_0,
)
from diffusers.pipelines.pag.pag_utils import PAGMixin

TOLERANCE = "1e-4"
SD3_PREFIX = "model.diffusion_model."
DIT_COMMIT = "ed81ce2"  # facebookresearch/DiT commit the models.py is expected from

REF_DIFFUSERS = f"diffusers {diffusers.__version__}, torch {torch.__version__}"


# --------------------------------------------------------------------------- utils


def randomize_(module, seed, skip=(), buffers=()):
    """Fill every parameter (except names in `skip`) and the named buffers with
    seeded normals. Iteration order is named_parameters() order: deterministic."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name in skip:
                continue
            leaf = name.rsplit(".", 1)[-1]
            if p.ndim == 1 and leaf == "weight":  # LayerNorm / GroupNorm / RMSNorm scale
                p.copy_(1.0 + 0.1 * torch.randn(p.shape))
            elif p.ndim == 1:  # biases
                p.copy_(0.05 * torch.randn(p.shape))
            else:  # Linear [out,in], Conv [out,in,kh,kw], Embedding [n,dim]
                fan_in = p[0].numel()
                std = min(0.2, max(0.02, fan_in ** -0.5))
                p.copy_(std * torch.randn(p.shape))
        for name in buffers:
            b = module.get_buffer(name)
            b.copy_(0.5 * torch.randn(b.shape))


def f32(t):
    return t.detach().to(torch.float32).contiguous().clone()


def run_ref(model, fn, *inputs):
    """Run fn(model, *inputs) once in fp32 and once on a float64 copy of the
    model with float inputs cast to float64. Returns (outputs as fp32 from the
    f64 run, worst relative error of the fp32 run)."""
    with torch.no_grad():
        out32 = fn(model, *inputs)
        m64 = copy.deepcopy(model).double()
        in64 = [x.double() if torch.is_tensor(x) and x.is_floating_point() else x for x in inputs]
        out64 = fn(m64, *in64)
    single = torch.is_tensor(out32)
    if single:
        out32, out64 = (out32,), (out64,)
    worst = 0.0
    for a, b in zip(out32, out64):
        den = b.abs().max().item()
        worst = max(worst, (a.double() - b).abs().max().item() / max(den, 1e-30))
    refs = tuple(f32(b) for b in out64)
    return (refs[0] if single else refs), worst


def write_model(outdir, case, state_dict, config, layout, reference, prefix="", written=None):
    tensors = {prefix + k: f32(v) for k, v in state_dict.items()}
    meta = {
        "config": json.dumps(config, sort_keys=True),
        "reference": reference,
        "layout": layout,
        "format": "pt",
    }
    path = os.path.join(outdir, f"{case}.model.safetensors")
    save_file(tensors, path, metadata=meta)
    _canonical_header(path)
    _check_roundtrip(path, tensors)
    if written is not None:
        written.append(path)
    return path


def write_io(outdir, case, tensors, description, reference, extra=None, written=None):
    out = {}
    for k, v in tensors.items():
        v = v.detach().contiguous().clone()
        out[k] = v if v.dtype == torch.int32 else v.to(torch.float32)
    meta = {"tolerance": TOLERANCE, "description": description, "reference": reference}
    meta.update({k: str(v) for k, v in (extra or {}).items()})
    path = os.path.join(outdir, f"{case}.io.safetensors")
    save_file(out, path, metadata=meta)
    _canonical_header(path)
    _check_roundtrip(path, out)
    if written is not None:
        written.append(path)
    return path


def _canonical_header(path):
    """safetensors' Rust writer keeps __metadata__ in a HashMap, so its key order
    (and so the file bytes) changes from run to run. Rewrite the header with the
    metadata keys sorted: same JSON content, same length, same padding."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", None)
    out = {}
    if meta is not None:
        out["__metadata__"] = dict(sorted(meta.items()))
    out.update(header)
    text = json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode()
    assert len(text) <= n, path
    text += b" " * (n - len(text))
    with open(path, "wb") as f:
        f.write(blob[:8] + text + blob[8 + n:])


def _check_roundtrip(path, tensors):
    back = load_file(path)
    assert set(back) == set(tensors), path
    for k in tensors:
        assert back[k].dtype == tensors[k].dtype and torch.equal(back[k], tensors[k]), (path, k)


def diffusers_config(model):
    cfg = json.loads(model.to_json_string())
    cfg.pop("_name_or_path", None)
    return cfg


def scalar(x):
    return torch.tensor([x], dtype=torch.float32)


def fmt_err(e):
    return f"{e:.3e}"


# --------------------------------------------------------------------------- DiT (diffusers)

DIT_CFG = dict(
    num_attention_heads=2,
    attention_head_dim=16,
    in_channels=4,
    out_channels=8,  # learned sigma: eps (4) + variance interpolation v (4)
    num_layers=2,
    sample_size=8,
    patch_size=2,
    activation_fn="gelu-approximate",
    num_embeds_ada_norm=10,  # 10 classes; class table has 11 rows, id 10 = null class
    norm_type="ada_norm_zero",
    norm_elementwise_affine=False,
    attention_bias=True,
)
DIT_T = [10.0, 500.0]


def case_dit_diffusers(outdir, written):
    model = DiTTransformer2DModel(**DIT_CFG).eval()
    randomize_(model, seed=1001)
    torch.manual_seed(1002)
    x = torch.randn(2, 4, 8, 8)
    t = torch.tensor(DIT_T)
    y = torch.tensor([3, 10], dtype=torch.int32)

    def fwd(m, x, t):
        return m(x, timestep=t, class_labels=y.long()).sample

    out, err = run_ref(model, fwd, x, t)
    write_model(outdir, "dit_diffusers", model.state_dict(), diffusers_config(model), "diffusers",
                REF_DIFFUSERS, written=written)
    desc = (
        "DiTTransformer2DModel(hidden 32 = 2 heads x 16, 2 layers, patch 2, 8x8 latent, 10 classes + null id 10, "
        "learned sigma: out = [eps(4) | v(4)]). output = model(x, timestep, class_labels).sample. "
        "Each block has its OWN timestep/class embedder (randomised independently here; converted public "
        "checkpoints hold identical copies); the final layer's conditioning is transformer_blocks[0].norm1.emb. "
        "Timestep sinusoid: 256-d [cos|sin], freq_i = exp(-ln(1e4) i/(128-1)) (downscale_freq_shift=1), computed "
        "in fp32. Pre-FF norm3 eps = 1e-5, norm1/norm_out eps 1e-6."
    )
    write_io(outdir, "dit_diffusers",
             {"x": x, "timestep": t, "class_labels": y, "output": out},
             desc, REF_DIFFUSERS, {"model": "dit_diffusers.model.safetensors",
                                   "fp32_torch_rel_err": fmt_err(err)}, written)


# --------------------------------------------------------------------------- DiT (original)

DIT_ORIG_CFG = dict(input_size=8, patch_size=2, in_channels=4, hidden_size=32, depth=2, num_heads=2,
                    mlp_ratio=4.0, class_dropout_prob=0.1, num_classes=10, learn_sigma=True)


def load_dit_module(repo):
    path = os.path.join(repo, "models.py")
    if not os.path.isfile(path):
        raise SystemExit(f"--dit-repo: {path} not found (facebookresearch/DiT models.py)")
    sys.path.insert(0, repo)
    import models as ditm  # noqa: E402  (facebookresearch/DiT models.py)
    sys.path.pop(0)
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()

    # The original TimestepEmbedder feeds the fp32 sinusoid straight into the
    # MLP; cast it to the MLP dtype so the float64 reference run works. In fp32
    # this is the identical computation.
    def _fwd(self, t):
        t_freq = self.timestep_embedding(t, self.frequency_embedding_size)
        return self.mlp(t_freq.to(self.mlp[0].weight.dtype))

    ditm.TimestepEmbedder.forward = _fwd
    return ditm, sha


def case_dit_original(outdir, written, dit_repo):
    import timm

    ditm, sha = load_dit_module(dit_repo)
    ref = f"facebookresearch/DiT {DIT_COMMIT} models.py (sha256 {sha[:16]}), timm {timm.__version__}, torch {torch.__version__}"
    model = ditm.DiT(**DIT_ORIG_CFG).eval()
    # pos_embed is the fixed 2D sin-cos table (requires_grad=False): keep it as
    # real checkpoints store it; randomise everything else.
    randomize_(model, seed=2001, skip=("pos_embed",))
    torch.manual_seed(2002)
    x = torch.randn(2, 4, 8, 8)
    t = torch.tensor(DIT_T)
    y = torch.tensor([3, 10], dtype=torch.int32)
    out, err = run_ref(model, lambda m, x, t: m(x, t, y.long()), x, t)

    # forward_with_cfg: batch [x; x] with labels [y; null]; it only reads the
    # first half of x and applies guidance to channels 0..2 only (DiT quirk).
    x_cfg = torch.cat([x, x])
    t_cfg = torch.cat([t, t])
    y_cfg = torch.tensor([3, 7, 10, 10], dtype=torch.int32)
    cfg_scale = 4.0
    out_cfg, err2 = run_ref(model, lambda m, x, t: m.forward_with_cfg(x, t, y_cfg.long(), cfg_scale), x_cfg, t_cfg)

    cfg = dict(DIT_ORIG_CFG)
    cfg["_source"] = f"facebookresearch/DiT@{DIT_COMMIT} models.py DiT(**config)"
    write_model(outdir, "dit_original", model.state_dict(), cfg, "original", ref, written=written)
    desc = (
        "facebookresearch/DiT DiT(depth 2, hidden 32, 2 heads x 16, patch 2, input 8, 10 classes + null id 10, "
        "learn_sigma). output = model.forward(x, timestep, class_labels). output_cfg = "
        "model.forward_with_cfg(x_cfg, timestep_cfg, class_labels_cfg, cfg_scale): x_cfg = [x; x], labels "
        "[3, 7, 10, 10]; it uses only the first half of x_cfg, computes uncond + s (cond - uncond) on channels "
        "0..2 ONLY and writes that into both halves; channel 3 and the 4 variance channels are the raw "
        "per-row outputs (cond rows 0-1, uncond rows 2-3). Differs numerically from diffusers' DiT by design: "
        "timestep sinusoid divides by half=128 (diffusers: 127), pre-MLP LayerNorm eps 1e-6 (diffusers norm3: "
        "1e-5), and one shared t/y embedder. pos_embed in the file is the exact fixed sin-cos table."
    )
    write_io(outdir, "dit_original",
             {"x": x, "timestep": t, "class_labels": y, "output": out,
              "x_cfg": x_cfg, "timestep_cfg": t_cfg, "class_labels_cfg": y_cfg,
              "cfg_scale": scalar(cfg_scale), "output_cfg": out_cfg},
             desc, ref, {"model": "dit_original.model.safetensors", "cfg_scale": cfg_scale,
                         "fp32_torch_rel_err": fmt_err(max(err, err2))}, written)


# --------------------------------------------------------------------------- SD3 MMDiT

SD3_CFG = dict(
    sample_size=8,
    patch_size=2,
    in_channels=16,
    num_layers=3,  # last block is context_pre_only
    attention_head_dim=8,
    num_attention_heads=3,  # = num_layers, as in every SD3 checkpoint (heads inferable from depth)
    joint_attention_dim=24,
    caption_projection_dim=24,  # = hidden
    pooled_projection_dim=16,
    out_channels=16,
    pos_embed_max_size=12,  # 8x8 latent -> 4x4 patches -> centre crop at (4,4) of a 12x12 grid
    dual_attention_layers=(),
    qk_norm=None,
)
SD3_T = [999.0, 250.5]


def sd3_inputs(seed):
    torch.manual_seed(seed)
    x = torch.randn(2, 16, 8, 8)
    enc = torch.randn(2, 5, 24)
    pooled = torch.randn(2, 16)
    x_rect = torch.randn(2, 16, 6, 10)
    return x, enc, pooled, x_rect


def sd3_fwd(m, x, enc, pooled, t):
    return m(hidden_states=x, encoder_hidden_states=enc, pooled_projections=pooled, timestep=t).sample


def build_sd3(cfg, seed):
    model = SD3Transformer2DModel(**cfg).eval()
    # pos_embed.pos_embed is a persistent buffer stored in every SD3 file:
    # randomise it too so a loader must read (and crop) the stored table.
    randomize_(model, seed=seed, buffers=("pos_embed.pos_embed",))
    return model


def sd3_io(model, seed):
    x, enc, pooled, x_rect = sd3_inputs(seed)
    t = torch.tensor(SD3_T)
    out, e1 = run_ref(model, sd3_fwd, x, enc, pooled, t)
    out_rect, e2 = run_ref(model, sd3_fwd, x_rect, enc, pooled, t)
    io = {"hidden_states": x, "encoder_hidden_states": enc, "pooled_projections": pooled, "timestep": t,
          "output": out, "hidden_states_rect": x_rect, "output_rect": out_rect}
    return io, max(e1, e2)


SD3_IO_DESC = (
    "output = model(hidden_states, encoder_hidden_states, pooled_projections, timestep).sample (velocity). "
    "timestep is sigma*1000 (fractional). Sinusoid 256-d [cos|sin], freq divisor 128 (shift 0), fp32. "
    "hidden_states_rect (6x10 latent -> 3x5 patches) exercises the non-square centre crop of the 12x12 "
    "pos_embed: top = (12-3)//2 = 4, left = (12-5)//2 = 3; output_rect is its output with the same "
    "encoder_hidden_states/pooled/timestep. Joint attention sequence = [image tokens, text tokens]."
)


def case_mmdit_diffusers(outdir, written):
    model = build_sd3(SD3_CFG, seed=3001)
    io, err = sd3_io(model, seed=3002)
    write_model(outdir, "mmdit_diffusers", model.state_dict(), diffusers_config(model), "diffusers",
                REF_DIFFUSERS, written=written)
    desc = ("SD3Transformer2DModel tiny (3 layers, last context_pre_only, 3 heads x 8 = 24, in/out 16 ch, "
            "patch 2, joint_attention_dim 24, pooled 16, pos_embed_max_size 12, qk_norm None). " + SD3_IO_DESC)
    write_io(outdir, "mmdit_diffusers", io, desc, REF_DIFFUSERS,
             {"model": "mmdit_diffusers.model.safetensors", "fp32_torch_rel_err": fmt_err(err)}, written)
    return model, io


def case_mmdit_qknorm(outdir, written):
    cfg = dict(SD3_CFG, qk_norm="rms_norm", dual_attention_layers=(0,))
    model = build_sd3(cfg, seed=4001)
    io, err = sd3_io(model, seed=4002)
    write_model(outdir, "mmdit_qknorm_diffusers", model.state_dict(), diffusers_config(model), "diffusers",
                REF_DIFFUSERS, written=written)
    desc = ("SD3.5-style SD3Transformer2DModel tiny: as mmdit_diffusers but qk_norm='rms_norm' (per-head RMSNorm, "
            "eps 1e-6, weight only, on q,k and on the context q,k) and dual_attention_layers=(0,) (block 0 uses "
            "SD35AdaLayerNormZeroX: 9 chunks shift,scale,gate,shift_mlp,scale_mlp,gate_mlp,shift2,scale2,gate2, "
            "and an image-only self-attention attn2 on the second modulated copy, added after the joint "
            "attention with gate2). " + SD3_IO_DESC)
    write_io(outdir, "mmdit_qknorm_diffusers", io, desc, REF_DIFFUSERS,
             {"model": "mmdit_qknorm_diffusers.model.safetensors", "fp32_torch_rel_err": fmt_err(err)}, written)
    return model, io


def sd3_diffusers_to_original(sd, num_layers):
    """Inverse of diffusers' convert_sd3_transformer_checkpoint_to_diffusers
    (= scripts/convert_sd3_to_diffusers.py): fuse q;k;v, rename, and swap
    (scale, shift) -> (shift, scale) on the final layer and the last
    (context_pre_only) context block's adaLN. Keys without the file prefix."""
    o = {}

    def mv(dst, src):
        for s in ("weight", "bias"):
            if f"{src}.{s}" in sd:
                o[f"{dst}.{s}"] = sd[f"{src}.{s}"]

    def qkv(dst, a, b, c):
        for s in ("weight", "bias"):
            o[f"{dst}.{s}"] = torch.cat([sd[f"{a}.{s}"], sd[f"{b}.{s}"], sd[f"{c}.{s}"]], dim=0)

    o["pos_embed"] = sd["pos_embed.pos_embed"]
    mv("x_embedder.proj", "pos_embed.proj")
    mv("t_embedder.mlp.0", "time_text_embed.timestep_embedder.linear_1")
    mv("t_embedder.mlp.2", "time_text_embed.timestep_embedder.linear_2")
    mv("y_embedder.mlp.0", "time_text_embed.text_embedder.linear_1")
    mv("y_embedder.mlp.2", "time_text_embed.text_embedder.linear_2")
    mv("context_embedder", "context_embedder")
    for i in range(num_layers):
        d, x, c = f"transformer_blocks.{i}", f"joint_blocks.{i}.x_block", f"joint_blocks.{i}.context_block"
        last = i == num_layers - 1
        qkv(f"{x}.attn.qkv", f"{d}.attn.to_q", f"{d}.attn.to_k", f"{d}.attn.to_v")
        qkv(f"{c}.attn.qkv", f"{d}.attn.add_q_proj", f"{d}.attn.add_k_proj", f"{d}.attn.add_v_proj")
        mv(f"{x}.attn.ln_q", f"{d}.attn.norm_q")
        mv(f"{x}.attn.ln_k", f"{d}.attn.norm_k")
        mv(f"{c}.attn.ln_q", f"{d}.attn.norm_added_q")
        mv(f"{c}.attn.ln_k", f"{d}.attn.norm_added_k")
        mv(f"{x}.attn.proj", f"{d}.attn.to_out.0")
        if not last:
            mv(f"{c}.attn.proj", f"{d}.attn.to_add_out")
        if f"{d}.attn2.to_q.weight" in sd:
            qkv(f"{x}.attn2.qkv", f"{d}.attn2.to_q", f"{d}.attn2.to_k", f"{d}.attn2.to_v")
            mv(f"{x}.attn2.ln_q", f"{d}.attn2.norm_q")
            mv(f"{x}.attn2.ln_k", f"{d}.attn2.norm_k")
            mv(f"{x}.attn2.proj", f"{d}.attn2.to_out.0")
        mv(f"{x}.adaLN_modulation.1", f"{d}.norm1.linear")
        if last:  # AdaLayerNormContinuous (scale, shift) -> original (shift, scale)
            for s in ("weight", "bias"):
                o[f"{c}.adaLN_modulation.1.{s}"] = swap_scale_shift(sd[f"{d}.norm1_context.linear.{s}"], 0)
        else:
            mv(f"{c}.adaLN_modulation.1", f"{d}.norm1_context.linear")
        mv(f"{x}.mlp.fc1", f"{d}.ff.net.0.proj")
        mv(f"{x}.mlp.fc2", f"{d}.ff.net.2")
        if not last:
            mv(f"{c}.mlp.fc1", f"{d}.ff_context.net.0.proj")
            mv(f"{c}.mlp.fc2", f"{d}.ff_context.net.2")
    mv("final_layer.linear", "proj_out")
    for s in ("weight", "bias"):
        o[f"final_layer.adaLN_modulation.1.{s}"] = swap_scale_shift(sd[f"norm_out.linear.{s}"], 0)
    assert sum(v.numel() for v in o.values()) == sum(v.numel() for v in sd.values()), "lost weights"
    return o


def check_sd3_roundtrip(model, orig):
    """diffusers' own converter must map our original-layout dict back to the
    exact diffusers state_dict."""
    sd = model.state_dict()
    back = convert_sd3_transformer_checkpoint_to_diffusers({SD3_PREFIX + k: v.clone() for k, v in orig.items()})
    assert set(back) == set(sd), sorted(set(back) ^ set(sd))
    for k in sd:
        assert torch.equal(back[k], sd[k]), k
    return back


def case_mmdit_original(outdir, written, model3, io3, model4):
    sd = model3.state_dict()
    orig = sd3_diffusers_to_original(sd, SD3_CFG["num_layers"])
    back = check_sd3_roundtrip(model3, orig)
    # also validate the inverse on the qk-norm / dual-attention variant (not written)
    check_sd3_roundtrip(model4, sd3_diffusers_to_original(model4.state_dict(), SD3_CFG["num_layers"]))
    # load the converted-back weights into a fresh model and rerun: same output bits
    fresh = SD3Transformer2DModel(**SD3_CFG).eval()
    fresh.load_state_dict(back, strict=True)
    io, _ = sd3_io(fresh, seed=3002)
    for k in io3:
        assert torch.equal(io[k], io3[k]), k
    cfg = diffusers_config(model3)
    write_model(outdir, "mmdit_original", orig, cfg, "original", REF_DIFFUSERS, prefix=SD3_PREFIX, written=written)
    desc = ("mmdit_diffusers's weights in the original SD3 single-file layout (prefix 'model.diffusion_model.', "
            "as in sd3_medium.safetensors): fused attn.qkv = [q; k; v] rows, final_layer.adaLN_modulation.1 and "
            "the last (context_pre_only) joint_blocks.2.context_block.adaLN_modulation.1 stored as (shift, scale) "
            "(diffusers: (scale, shift)). Verified: diffusers' convert_sd3_transformer_checkpoint_to_diffusers "
            "maps this file back to mmdit_diffusers's state_dict exactly. Tensors identical to "
            "mmdit_diffusers.io.safetensors. " + SD3_IO_DESC)
    write_io(outdir, "mmdit_original", io, desc, REF_DIFFUSERS,
             {"model": "mmdit_original.model.safetensors", "same_as": "mmdit_diffusers.io.safetensors"}, written)


# --------------------------------------------------------------------------- PAG (SD3, diffusers)


class _PAGHolder(PAGMixin):
    """Just enough of a pipeline for PAGMixin to find `self.transformer`."""

    def __init__(self, transformer):
        self.transformer = transformer


def guidance_inputs(seed, C):
    """Rows [uncond, cond, cond]: same latent and timestep, text from the
    uncond prompt in row 0 and the cond prompt in rows 1-2."""
    torch.manual_seed(seed)
    x = torch.randn(1, C, 8, 8).repeat(3, 1, 1, 1)
    enc_u, enc_c = torch.randn(1, 5, 24), torch.randn(1, 5, 24)
    pool_u, pool_c = torch.randn(1, 16), torch.randn(1, 16)
    enc = torch.cat([enc_u, enc_c, enc_c])
    pooled = torch.cat([pool_u, pool_c, pool_c])
    t = torch.tensor([700.0] * 3)
    return x, enc, pooled, t


def combine(out, g, s):
    e_u, e_c, e_p = out.chunk(3)
    return e_u + g * (e_c - e_u) + s * (e_c - e_p)


def case_pag_sd3(outdir, written, model3):
    model = copy.deepcopy(model3)
    holder = _PAGHolder(model)
    holder.set_pag_applied_layers(["blocks.1"], pag_attn_processors=(PAGCFGJointAttnProcessor2_0(),
                                                                     PAGJointAttnProcessor2_0()))
    holder._set_pag_attn_processor(pag_applied_layers=holder.pag_applied_layers, do_classifier_free_guidance=True)
    procs = {k: type(v).__name__ for k, v in model.attn_processors.items()}
    pag = [k for k, v in procs.items() if v == "PAGCFGJointAttnProcessor2_0"]
    assert pag == ["transformer_blocks.1.attn.processor"], procs

    x, enc, pooled, t = guidance_inputs(8001, 16)
    out, err = run_ref(model, sd3_fwd, x, enc, pooled, t)
    plain, _ = run_ref(model3, sd3_fwd, x, enc, pooled, t)
    assert torch.allclose(out[:2], plain[:2], rtol=0, atol=1e-6), "PAG changed the unperturbed rows"
    assert not torch.allclose(out[2], plain[2], atol=1e-4), "PAG had no effect"

    g, s = 4.0, 3.0
    holder._pag_scale, holder._pag_adaptive_scale = s, 0.0
    guided = holder._apply_perturbed_attention_guidance(out.double(), True, g, 700.0).float()
    assert torch.allclose(guided, combine(out.double(), g, s).float(), atol=1e-6)
    desc = (
        "diffusers SD3 PAG on the mmdit_diffusers.model.safetensors weights: transformer_blocks.1.attn gets "
        "PAGCFGJointAttnProcessor2_0 (via PAGMixin.set_pag_applied_layers(['blocks.1']) + _set_pag_attn_processor); "
        "all other attention layers are normal. Batch rows [uncond, cond, cond-perturbed] (same latent and "
        "timestep; rows 1 and 2 share the cond text). In the perturbed row only, layer 1's joint attention uses "
        "an additive logit mask over the joint sequence [image (16), text (5)]: image-image block -inf except its "
        "diagonal (0), everything else 0, for all heads -- an image query sees itself plus all text keys; text "
        "queries are unchanged. Rows 0-1 equal the unperturbed forward. output = raw transformer output "
        "(3 rows); guided = e_u + g (e_c - e_u) + s (e_c - e_p) with g = guidance_scale, s = pag_scale "
        "(diffusers convention A, PAGMixin._apply_perturbed_attention_guidance, no adaptive scale)."
    )
    write_io(outdir, "pag_sd3",
             {"hidden_states": x, "encoder_hidden_states": enc, "pooled_projections": pooled, "timestep": t,
              "output": out, "guidance_scale": scalar(g), "pag_scale": scalar(s), "guided": guided},
             desc, REF_DIFFUSERS,
             {"model": "mmdit_diffusers.model.safetensors", "pag_layers": "1", "guidance_scale": g,
              "pag_scale": s, "fp32_torch_rel_err": fmt_err(err)}, written)


# --------------------------------------------------------------------------- head-level identity (HeadHunter)


class HeadIdentityJointAttnProcessor:
    """diffusers JointAttnProcessor2_0 (QK-norm included) plus HeadHunter's
    SoftPAG on selected heads over the WHOLE joint sequence, for the rows in
    `ptb_rows` only:  out_h = (1-u) softmax(Q_h K_h^T / sqrt(d)) V_h + u V_h,
    i.e. A' = (1-u) A + u I with I the identity over [image, text] tokens.
    (HeadHunter attention_processor.py skip_attention, type attention_identity@scale=u.)"""

    def __init__(self, heads, u, ptb_rows):
        self.heads, self.u, self.ptb_rows = list(heads), float(u), list(ptb_rows)

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *args, **kwargs):
        residual = hidden_states
        B = hidden_states.shape[0]
        query, key, value = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        head_dim = key.shape[-1] // attn.heads
        query = query.view(B, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(B, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(B, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        if encoder_hidden_states is not None:
            cq = attn.add_q_proj(encoder_hidden_states).view(B, -1, attn.heads, head_dim).transpose(1, 2)
            ck = attn.add_k_proj(encoder_hidden_states).view(B, -1, attn.heads, head_dim).transpose(1, 2)
            cv = attn.add_v_proj(encoder_hidden_states).view(B, -1, attn.heads, head_dim).transpose(1, 2)
            if attn.norm_added_q is not None:
                cq = attn.norm_added_q(cq)
            if attn.norm_added_k is not None:
                ck = attn.norm_added_k(ck)
            query = torch.cat([query, cq], dim=2)
            key = torch.cat([key, ck], dim=2)
            value = torch.cat([value, cv], dim=2)

        hs = F.scaled_dot_product_attention(query, key, value, dropout_p=0.0, is_causal=False)  # (B,H,L,d)
        if self.heads and self.u != 0.0:
            mask = torch.zeros(B, attn.heads, 1, 1, dtype=hs.dtype)
            for b in self.ptb_rows:
                for h in self.heads:
                    mask[b, h] = self.u
            hs = (1.0 - mask) * hs + mask * value
        hs = hs.transpose(1, 2).reshape(B, -1, attn.heads * head_dim).to(query.dtype)

        if encoder_hidden_states is not None:
            hs, ehs = hs[:, : residual.shape[1]], hs[:, residual.shape[1]:]
            if not attn.context_pre_only:
                ehs = attn.to_add_out(ehs)
        hs = attn.to_out[1](attn.to_out[0](hs))
        if encoder_hidden_states is not None:
            return hs, ehs
        return hs


def with_head_identity(model, heads, u, ptb_rows):
    m = copy.deepcopy(model)
    for layer in sorted({l for l, _ in heads}):
        hs = [h for l, h in heads if l == layer]
        m.transformer_blocks[layer].attn.set_processor(HeadIdentityJointAttnProcessor(hs, u, ptb_rows))
    return m


HEADS = [(0, 1), (1, 0), (2, 2)]


def case_headid_sd3(outdir, written, model4):
    x, enc, pooled, t = guidance_inputs(9001, 16)
    plain, _ = run_ref(model4, sd3_fwd, x, enc, pooled, t)
    # self-checks of the processor: u = 0 or no perturbed row reproduces the plain model
    z, _ = run_ref(with_head_identity(model4, HEADS, 0.0, [2]), sd3_fwd, x, enc, pooled, t)
    assert torch.allclose(z, plain, rtol=0, atol=1e-6)
    z, _ = run_ref(with_head_identity(model4, HEADS, 1.0, []), sd3_fwd, x, enc, pooled, t)
    assert torch.allclose(z, plain, rtol=0, atol=1e-6)

    outs, errs = {}, []
    for u, name in ((1.0, "output_u1"), (0.5, "output_u05")):
        o, e = run_ref(with_head_identity(model4, HEADS, u, [2]), sd3_fwd, x, enc, pooled, t)
        assert torch.allclose(o[:2], plain[:2], rtol=0, atol=1e-6)
        assert not torch.allclose(o[2], plain[2], atol=1e-4)
        outs[name] = o
        errs.append(e)
    g, s = 4.0, 3.0
    heads = torch.tensor(HEADS, dtype=torch.int32)
    desc = (
        "HeadHunter/SoftPAG head-level identity on mmdit_qknorm_diffusers.model.safetensors (QK RMSNorm, dual "
        "attention in block 0). Batch rows [uncond, cond, cond-perturbed]; only row 2 is perturbed. For each "
        "(layer, head) in `heads`, the head's joint attention output in transformer_blocks[layer].attn becomes "
        "(1-u) softmax(QK^T/sqrt(8)) V + u V over the WHOLE joint sequence [image 16, text 5] (every token, image "
        "or text, keeps its own V; QK-norm stays in the softmax path), before to_out / to_add_out. Only the "
        "joint attention `attn` is perturbed, never the dual image-only `attn2`. Head (2,2) sits in the "
        "context_pre_only last block (text outputs discarded; image rows still change). output_u1: u = 1 "
        "(full identity on those heads); output_u05: u = 0.5. guided_u1 / guided_u05 = e_u + g (e_c - e_u) + "
        "s (e_c - e_p) with g = 4, s = 3. Rows 0-1 equal the unperturbed forward."
    )
    io = {"hidden_states": x, "encoder_hidden_states": enc, "pooled_projections": pooled, "timestep": t,
          "heads": heads, "u": torch.tensor([1.0, 0.5]),
          "output_u1": outs["output_u1"], "output_u05": outs["output_u05"],
          "guidance_scale": scalar(g), "pag_scale": scalar(s),
          "guided_u1": combine(outs["output_u1"].double(), g, s).float(),
          "guided_u05": combine(outs["output_u05"].double(), g, s).float()}
    write_io(outdir, "headid_sd3", io, desc, REF_DIFFUSERS + " (processor: this script)",
             {"model": "mmdit_qknorm_diffusers.model.safetensors", "heads": HEADS, "u": "1.0 (output_u1), 0.5 (output_u05)",
              "perturbed_rows": "2", "fp32_torch_rel_err": fmt_err(max(errs))}, written)


# --------------------------------------------------------------------------- VAE


VAE_SD_CFG = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
    up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    block_out_channels=(8, 16),
    layers_per_block=1,
    act_fn="silu",
    latent_channels=4,
    norm_num_groups=4,
    sample_size=16,
    scaling_factor=0.18215,
    use_quant_conv=True,
    use_post_quant_conv=True,
)
VAE_SD3_CFG = dict(VAE_SD_CFG, latent_channels=16, scaling_factor=1.5305, shift_factor=0.0609,
                   use_quant_conv=False, use_post_quant_conv=False)


def vae_encode(m, x):
    post = m.encode(x).latent_dist
    return post.mean, post.logvar


def vae_decode(m, z):
    return m.decode(z).sample


def vae_io(model, seed, zc):
    torch.manual_seed(seed)
    image = torch.rand(1, 3, 16, 16) * 2 - 1
    latent = torch.randn(1, zc, 8, 8)
    image_rect = torch.rand(1, 3, 12, 20) * 2 - 1
    latent_rect = torch.randn(1, zc, 6, 10)
    (mean, logvar), e1 = run_ref(model, vae_encode, image)
    dec, e2 = run_ref(model, vae_decode, latent)
    (mean_r, logvar_r), e3 = run_ref(model, vae_encode, image_rect)
    dec_r, e4 = run_ref(model, vae_decode, latent_rect)
    io = {"image": image, "mean": mean, "logvar": logvar, "latent": latent, "decoded": dec,
          "image_rect": image_rect, "mean_rect": mean_r, "logvar_rect": logvar_r,
          "latent_rect": latent_rect, "decoded_rect": dec_r}
    return io, max(e1, e2, e3, e4)


VAE_IO_DESC = (
    "mean, logvar = model.encode(image).latent_dist.{mean,logvar} (encoder -> quant_conv if present -> split "
    "channels [mean | logvar], logvar clamped to [-30, 20]); decoded = model.decode(latent).sample "
    "(post_quant_conv if present -> decoder). latent is an arbitrary N(0,1) input, NOT scaled: the pipeline "
    "transform z = (mean - shift) * scaling_factor / x = decode(z / scaling_factor + shift) is outside these "
    "tensors. *_rect: a 12x20 image (encoder downsample pads (0,1,0,1) then 3x3 stride 2) and a 6x10 latent. "
    "GroupNorm(4 groups, eps 1e-6) everywhere; mid-block attention is single-head over H*W pixels."
)


def vae_to_ldm(sd, n_levels):
    """Inverse of diffusers' convert_ldm_vae_checkpoint: diffusers AutoencoderKL
    keys -> LDM/CompVis keys (bare, as in vae-ft-mse-840000-ema-pruned.safetensors)."""
    o = {}
    for k, v in sd.items():
        n = k
        n = n.replace("conv_norm_out", "norm_out")
        n = n.replace("conv_shortcut", "nin_shortcut")
        n = n.replace("mid_block.resnets.0", "mid.block_1").replace("mid_block.resnets.1", "mid.block_2")
        if "mid_block.attentions.0" in n:
            n = n.replace("mid_block.attentions.0", "mid.attn_1")
            n = (n.replace("group_norm", "norm").replace("to_q", "q").replace("to_k", "k")
                 .replace("to_v", "v").replace("to_out.0", "proj_out"))
            if v.ndim == 2:  # LDM AttnBlock uses 1x1 convs
                v = v[:, :, None, None]
        if n.startswith("encoder.down_blocks."):
            parts = n.split(".")
            i = parts[2]
            rest = ".".join(parts[3:])
            rest = rest.replace("resnets.", "block.").replace("downsamplers.0.", "downsample.")
            n = f"encoder.down.{i}.{rest}"
        if n.startswith("decoder.up_blocks."):
            parts = n.split(".")
            i = n_levels - 1 - int(parts[2])  # diffusers up_blocks run in reverse LDM order
            rest = ".".join(parts[3:])
            rest = rest.replace("resnets.", "block.").replace("upsamplers.0.", "upsample.")
            n = f"decoder.up.{i}.{rest}"
        assert n not in o, n
        o[n] = v
    return o


def case_vae(outdir, written, case, cfg, seed, title):
    model = AutoencoderKL(**cfg).eval()
    randomize_(model, seed=seed)
    io, err = vae_io(model, seed + 1, cfg["latent_channels"])
    config = diffusers_config(model)
    write_model(outdir, case, model.state_dict(), config, "diffusers", REF_DIFFUSERS, written=written)
    write_io(outdir, case, io, title + " " + VAE_IO_DESC, REF_DIFFUSERS,
             {"model": f"{case}.model.safetensors", "scaling_factor": cfg["scaling_factor"],
              "shift_factor": cfg.get("shift_factor", 0.0), "fp32_torch_rel_err": fmt_err(err)}, written)
    return model, io


def case_vae_original(outdir, written, model, io_ref):
    sd = model.state_dict()
    n_levels = len(VAE_SD_CFG["block_out_channels"])
    ldm = vae_to_ldm(sd, n_levels)
    back = convert_ldm_vae_checkpoint({k: v.clone() for k, v in ldm.items()}, dict(model.config))
    assert set(back) == set(sd), sorted(set(back) ^ set(sd))
    for k in sd:
        assert torch.equal(back[k], sd[k]), k
    fresh = AutoencoderKL(**VAE_SD_CFG).eval()
    fresh.load_state_dict(back, strict=True)
    io, _ = vae_io(fresh, 6002, 4)
    for k in io_ref:
        assert torch.equal(io[k], io_ref[k]), k
    config = diffusers_config(model)
    config["_ldm_ddconfig"] = {"double_z": True, "z_channels": 4, "embed_dim": 4, "resolution": 16,
                               "in_channels": 3, "out_ch": 3, "ch": 8, "ch_mult": [1, 2],
                               "num_res_blocks": 1, "attn_resolutions": [],
                               "note": "LDM hard-codes GroupNorm(32); this tiny model uses norm_num_groups=4"}
    write_model(outdir, "vae_sd_original", ldm, config, "original", REF_DIFFUSERS, written=written)
    desc = ("vae_sd's weights in the LDM/CompVis key layout (bare keys as in vae-ft-mse-840000-ema-pruned; inside "
            "SD1 checkpoints they sit under 'first_stage_model.'): encoder.down.i.block.j, "
            "encoder.down.i.downsample.conv, decoder.up.(1-i).block.j for diffusers up_blocks.i, "
            "decoder.up.k.upsample.conv, {encoder,decoder}.mid.block_{1,2}, mid.attn_1.{norm,q,k,v,proj_out} with "
            "q/k/v/proj_out as 1x1 conv weights [C,C,1,1], nin_shortcut, norm_out, quant_conv, post_quant_conv. "
            "Verified: diffusers' convert_ldm_vae_checkpoint maps it back to vae_sd's state_dict exactly. Tensors "
            "identical to vae_sd.io.safetensors. " + VAE_IO_DESC)
    write_io(outdir, "vae_sd_original", io, desc, REF_DIFFUSERS,
             {"model": "vae_sd_original.model.safetensors", "same_as": "vae_sd.io.safetensors",
              "scaling_factor": 0.18215}, written)


# --------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dit-repo", required=True, help="directory holding facebookresearch/DiT models.py")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)), help="output directory")
    args = ap.parse_args()

    # One thread and deterministic kernels: byte-identical reruns on one machine.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    import numpy
    import timm
    import transformers
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, safetensors {safetensors.__version__}, "
          f"numpy {numpy.__version__}, timm {timm.__version__}, transformers {transformers.__version__}, "
          f"python {sys.version.split()[0]}")

    written = []
    case_dit_diffusers(args.out, written)
    case_dit_original(args.out, written, args.dit_repo)
    model3, io3 = case_mmdit_diffusers(args.out, written)
    model4, _ = case_mmdit_qknorm(args.out, written)
    case_mmdit_original(args.out, written, model3, io3, model4)
    vae, vae_io_ref = case_vae(args.out, written, "vae_sd", VAE_SD_CFG, 6001,
                               "AutoencoderKL tiny SD-style (block_out_channels (8,16), layers_per_block 1, "
                               "4 latent channels, quant_conv + post_quant_conv, scaling_factor 0.18215).")
    case_vae_original(args.out, written, vae, vae_io_ref)
    case_vae(args.out, written, "vae_sd3", VAE_SD3_CFG, 7001,
             "AutoencoderKL tiny SD3-style (block_out_channels (8,16), layers_per_block 1, 16 latent channels, "
             "NO quant_conv / post_quant_conv, scaling_factor 1.5305, shift_factor 0.0609).")
    case_pag_sd3(args.out, written, model3)
    case_headid_sd3(args.out, written, model4)

    total = 0
    for p in written:
        size = os.path.getsize(p)
        total += size
        with open(p, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        io_err = ""
        if p.endswith(".io.safetensors"):
            with safetensors.safe_open(p, "pt") as f:
                io_err = f.metadata().get("fp32_torch_rel_err", "")
        print(f"{os.path.basename(p):42s} {size:8d} B  sha256 {digest}  {io_err}")
    print(f"total {total} B in {len(written)} files")


if __name__ == "__main__":
    main()
