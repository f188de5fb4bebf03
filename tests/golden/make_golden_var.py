#!/usr/bin/env python3
"""Golden data for silt's VAR (issue 5): the multi-scale VQ-VAE tokenizer and the
VAR transformer, run with the official FoundationVision/VAR code.

Builds TINY random-weight models with the official classes (models/vqvae.py,
quant.py, basic_vae.py, var.py, basic_var.py, helpers.py), runs them and writes
into tests/golden/:

  var_vq.model.safetensors   VQVAE state_dict (official key names, buffers kept)
  var_a.model.safetensors    VAR: per-block AdaLN, attn_l2_norm (the released setting)
  var_b.model.safetensors    VAR: shared AdaLN (d36-s style), no l2 norm, 4 heads
  var_vq.io.safetensors      tokenizer: encode (image -> f, f_hat per scale, indices),
                             decode (indices -> f_hat, image), teacher-forcing input,
                             PhiPartiallyShared scale->phi tables
  var_a.io / var_b.io        teacher-forced logits (block-causal mask) and one
                             autoregressive_infer_cfg pass: per-scale CFG logits,
                             the top-k/top-p keep mask, the sampled indices (torch
                             RNG, to be replayed), the final image

The model files are written by tools/pth2safetensors.py from a torch.save'd
state_dict, exactly as a user converts the official .pth files.

Tiny config: VQ V=32, Cvae=8, ch=8, ch_mult (1,2,2), 2 res blocks, patch_nums
(1,2,3,4,6) on 24x24 images; VAR depth 2, width 32, 10 classes. Two things are
changed in the official code to make the model tiny, by patching module
attributes (the code itself is untouched): VQVAE hard-codes ch_mult=(1,1,2,2,4)
and num_res_blocks=2 (we pass (1,2,2) and 2), and basic_vae.Normalize hard-codes
32 GroupNorm groups (we use 4, stored as config norm_num_groups).

Reference outputs come from a float64 copy of each model, rounded to fp32. The
official code casts to fp32 in a few places (.float(), new_zeros(dtype=float32));
during the f64 run those are patched to keep f64. Each io file records
fp32_torch_rel_err: the same official code in plain fp32 (sampling replays the
f64 run's indices) vs the stored outputs, max|out32 - ref| / max|ref|.

Every parameter is random (including what VAR zero-initialises), and one head's
scale_mul_1H11 is above ln(100) so the clamp matters. The script asserts that
every argmin (encode) and every top-k / top-p decision has a margin far above
fp32 rounding, so exact index equality is a fair test.

Usage:
  git --git-dir=<VAR mirror> archive 78b9539 | tar -x -C /tmp/VAR
  /work/venv-ref/bin/python tests/golden/make_golden_var.py --var-repo /tmp/VAR [--out DIR]
"""

import argparse
import contextlib
import copy
import hashlib
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import pth2safetensors  # noqa: E402

TOLERANCE = "1e-4"
VAR_COMMIT = "78b9539"

PN = (1, 2, 3, 4, 6)
IMG = 24
VQ = dict(vocab_size=32, z_channels=8, ch=8, ch_mult=(1, 2, 2), num_res_blocks=2, norm_num_groups=4,
          quant_resi=0.5, share_quant_resi=4, v_patch_nums=PN)
VAR_CASES = {
    "var_a": dict(depth=2, embed_dim=32, num_heads=2, num_classes=10, shared_aln=False, attn_l2_norm=True,
                  tf_label=[3, 10], sample_label=[1, 7], cfg=2.5, top_k=20, top_p=0.9, seed=7),
    "var_b": dict(depth=2, embed_dim=32, num_heads=4, num_classes=10, shared_aln=True, attn_l2_norm=False,
                  tf_label=[10, 5], sample_label=[9, 0], cfg=1.5, top_k=0, top_p=0.0, seed=11),
}


# --------------------------------------------------------------------------- official code


def import_official(repo):
    if not os.path.isfile(os.path.join(repo, "models", "var.py")):
        sys.exit(f"--var-repo {repo}: no models/var.py (extract FoundationVision/VAR@{VAR_COMMIT} there)")
    sys.path.insert(0, repo)
    import models.basic_vae as basic_vae
    import models.helpers as helpers
    import models.quant as quant
    import models.var as var
    import models.vqvae as vqvae

    h = hashlib.sha256()
    for f in ("basic_vae.py", "basic_var.py", "helpers.py", "quant.py", "var.py", "vqvae.py"):
        with open(os.path.join(repo, "models", f), "rb") as fh:
            h.update(fh.read())
    return dict(basic_vae=basic_vae, helpers=helpers, quant=quant, var=var, vqvae=vqvae, sha=h.hexdigest()[:16])


def patch_tiny_vq(O):
    """ch_mult / num_res_blocks and the GroupNorm group count are hard-coded in
    the official VQVAE; swap them by module attribute, code untouched."""
    bv = O["basic_vae"]
    groups = VQ["norm_num_groups"]
    bv.Normalize = lambda in_channels, num_groups=32: nn.GroupNorm(groups, in_channels, eps=1e-6, affine=True)
    enc, dec = bv.Encoder, bv.Decoder
    over = dict(ch_mult=VQ["ch_mult"], num_res_blocks=VQ["num_res_blocks"])
    O["vqvae"].Encoder = lambda **kw: enc(**{**kw, **over})
    O["vqvae"].Decoder = lambda **kw: dec(**{**kw, **over})


@contextlib.contextmanager
def f64_mode():
    """Keep float64 where the official code casts to fp32 (Tensor.float() and
    new_zeros(dtype=torch.float32)), so the whole reference runs in f64."""
    orig_float, orig_new_zeros = torch.Tensor.float, torch.Tensor.new_zeros

    def flt(self, *a, **k):
        return self if self.dtype == torch.float64 else orig_float(self, *a, **k)

    def new_zeros(self, *size, dtype=None, **k):
        if dtype == torch.float32:
            dtype = torch.float64
        return orig_new_zeros(self, *size, dtype=dtype, **k)

    torch.Tensor.float, torch.Tensor.new_zeros = flt, new_zeros
    try:
        yield
    finally:
        torch.Tensor.float, torch.Tensor.new_zeros = orig_float, orig_new_zeros


@contextlib.contextmanager
def argmin_margins(out):
    """Records, for every torch.argmin(d, dim=1) the quantizer makes, the gap
    between the best and second-best squared distance relative to the row's
    scale, so the script can assert the choice is not a near-tie."""
    orig = torch.argmin

    def am(d, dim=None, **k):
        if d.ndim == 2 and dim == 1 and d.shape[1] > 1:
            s = d.double().sort(dim=1).values
            rel = (s[:, 1] - s[:, 0]) / (s[:, :2].abs().max(dim=1).values + 1e-30)
            out.append(rel.min().item())
        return orig(d, dim=dim, **k)

    torch.argmin = am
    try:
        yield
    finally:
        torch.argmin = orig


# --------------------------------------------------------------------------- weights


def randomize_(module, seed, embed_std=0.5, extra=None):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if extra and name in extra:
                p.copy_(extra[name](p))
            elif name.startswith(("pos_", "lvl_embed", "class_emb")) or "embedding" in name:
                p.copy_(embed_std * torch.randn(p.shape))
            elif p.ndim == 1 and leaf == "weight":  # GroupNorm scale
                p.copy_(1.0 + 0.1 * torch.randn(p.shape))
            elif p.ndim == 1:  # biases (q_bias, v_bias included)
                p.copy_(0.05 * torch.randn(p.shape))
            else:
                fan_in = p[0].numel()
                std = min(0.2, max(0.02, fan_in ** -0.5))
                p.copy_(std * torch.randn(p.shape))


def f32(t):
    return t.detach().to(torch.float32).contiguous().clone()


def i32(t):
    return t.detach().to(torch.int32).contiguous().clone()


def rel_err(a, ref):
    return (a.double() - ref.double()).abs().max().item() / max(ref.double().abs().max().item(), 1e-30)


# --------------------------------------------------------------------------- files


def canonical_header(path):
    """safetensors keeps __metadata__ in a hash map: sort its keys so reruns give
    identical bytes (same JSON content, same length)."""
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


def write_model(outdir, case, module, config):
    """torch.save the state_dict, convert it with tools/pth2safetensors.py."""
    path = os.path.join(outdir, f"{case}.model.safetensors")
    sd = {k: v.detach().clone() for k, v in module.state_dict().items()}
    with tempfile.TemporaryDirectory() as tmp:
        pth = os.path.join(tmp, f"{case}.pth")
        torch.save(sd, pth)
        pth2safetensors.convert(pth, path, config=json.dumps(config), force=True)
    canonical_header(path)
    back = load_file(path)
    assert set(back) == set(sd), case
    for k in sd:
        assert back[k].dtype == sd[k].dtype and torch.equal(back[k], sd[k]), (case, k)
    return path


def write_io(outdir, case, tensors, meta):
    path = os.path.join(outdir, f"{case}.io.safetensors")
    out = {k: (v if v.dtype == torch.int32 else f32(v)) for k, v in tensors.items()}
    save_file(out, path, metadata={k: str(v) for k, v in meta.items()})
    canonical_header(path)
    back = load_file(path)
    for k in out:
        assert torch.equal(back[k], out[k]), (case, k)
    return path


# --------------------------------------------------------------------------- VQ-VAE


def build_vq(O):
    patch_tiny_vq(O)
    vae = O["vqvae"].VQVAE(vocab_size=VQ["vocab_size"], z_channels=VQ["z_channels"], ch=VQ["ch"], test_mode=True,
                           quant_resi=VQ["quant_resi"], share_quant_resi=VQ["share_quant_resi"], v_patch_nums=PN)
    randomize_(vae, seed=1)
    with torch.no_grad():
        # Codebook on the scale of the encoder's features, so residual
        # quantisation actually removes energy scale by scale.
        img = torch.rand(4, 3, IMG, IMG) * 2 - 1
        f = vae.quant_conv(vae.encoder(img))
        vae.quantize.embedding.weight.mul_(f.std().item() / vae.quantize.embedding.weight.std().item())
        # Decoder output mostly inside [-1, 1], so the final clamp hides little.
        out = vae.decoder(vae.post_quant_conv(f))
        vae.decoder.conv_out.weight.mul_(0.5 / out.std().item())
        vae.decoder.conv_out.bias.mul_(0.5 / out.std().item())
    return vae.eval()


def idx_list(idx_BL):
    out, cur = [], 0
    for pn in PN:
        out.append(idx_BL[:, cur:cur + pn * pn])
        cur += pn * pn
    return out


def vq_fns(vae, img, idx_dec):
    q = vae.quantize
    f = vae.quant_conv(vae.encoder(img))
    idx = torch.cat(vae.img_to_idxBl(img), dim=1)
    fhat_scales = torch.stack(q.f_to_idxBl_or_fhat(f, to_fhat=True), dim=0)
    lst = idx_list(idx_dec)
    B = idx_dec.shape[0]
    ms_h = [q.embedding(x).transpose(1, 2).view(B, vae.Cvae, round(x.shape[1] ** 0.5), -1) for x in lst]
    fhat_dec = q.embed_to_fhat(ms_h, all_to_max_scale=True, last_one=True)
    img_dec = vae.idxBl_to_img(lst, same_shape=True, last_one=True)
    var_input = q.idxBl_to_var_input(lst)
    return dict(f=f, idx=idx, fhat_scales=fhat_scales, fhat_dec=fhat_dec, image_dec=img_dec, var_input=var_input)


def phi_tables(O):
    """Scale -> phi index of PhiPartiallyShared / PhiNonShared for n_phi 1..6 and
    K = 2..16 scales: table[n_phi-1, K-2, si] (-1 past K)."""
    quant = O["quant"]
    tab = torch.full((6, 15, 16), -1, dtype=torch.int32)
    for n_phi in range(1, 7):
        ls = nn.ModuleList([nn.Identity() for _ in range(n_phi)])
        ps = quant.PhiPartiallyShared(ls)
        for K in range(2, 17):
            for si in range(K):
                chosen = ps[si / (K - 1)]
                tab[n_phi - 1, K - 2, si] = [i for i, m in enumerate(ls) if m is chosen][0]
    return tab


def make_vq(O, outdir, ref):
    vae = build_vq(O)
    torch.manual_seed(2)
    img = torch.rand(2, 3, IMG, IMG) * 2 - 1
    L = sum(p * p for p in PN)
    idx_dec = torch.randint(0, VQ["vocab_size"], (2, L))
    with torch.no_grad():
        out32 = vq_fns(vae, img, idx_dec)
        vae64 = copy.deepcopy(vae).double()
        margins = []
        with f64_mode(), argmin_margins(margins):
            out64 = vq_fns(vae64, img.double(), idx_dec)
    assert torch.equal(out32["idx"], out64["idx"]), "fp32 and f64 encodes disagree: near-tie"
    min_margin = min(margins)
    assert min_margin > 1e-4, f"argmin margin {min_margin:g} too small"
    clamped = (out64["image_dec"].abs() >= 1).double().mean().item()
    errs = {k: rel_err(out32[k], out64[k]) for k in out64 if k != "idx"}
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in VQ.items()}
    write_model(outdir, "var_vq", vae, config)
    io = dict(image=img, f=out64["f"], idx=i32(out64["idx"]), fhat_scales=out64["fhat_scales"],
              idx_dec=i32(idx_dec), fhat_dec=out64["fhat_dec"], image_dec=out64["image_dec"],
              var_input=out64["var_input"], phi_table=phi_tables(O))
    write_io(outdir, "var_vq", io, dict(
        tolerance=TOLERANCE, reference=ref, model="var_vq.model.safetensors",
        description="f = quant_conv(encoder(image)); idx = cat(img_to_idxBl(image), 1); fhat_scales = "
                    "stack(f_to_idxBl_or_fhat(f, to_fhat=True)); fhat_dec = embed_to_fhat(embeddings of idx_dec, "
                    "all_to_max_scale=True, last_one=True); image_dec = idxBl_to_img(idx_dec, same_shape=True, "
                    "last_one=True) (clamped to [-1,1]); var_input = idxBl_to_var_input(idx_dec); "
                    "phi_table[n_phi-1, K-2, si] = index PhiPartiallyShared(n_phi phis)[si/(K-1)] picks (-1: si >= K)",
        fp32_torch_rel_err=f"{max(errs.values()):.3e}", argmin_min_rel_margin=f"{min_margin:.3e}",
        image_dec_clamped_fraction=f"{clamped:.3f}", patch_nums=json.dumps(list(PN))))
    print(f"var_vq: fp32 rel err {max(errs.values()):.2e}, argmin margin {min_margin:.2e}, "
          f"clamped {clamped:.1%}, encode idx {out64['idx'][0, :10].tolist()}...")
    return vae, out64


# --------------------------------------------------------------------------- VAR


class Recorder:
    """Stands in for helpers.sample_with_top_k_top_p_ inside models.var: records
    the CFG logits, the keep mask and the indices, or replays recorded indices."""

    def __init__(self, orig, replay=None):
        self.orig, self.replay = orig, replay
        self.logits, self.keep, self.idx, self.margins = [], [], [], []

    def __call__(self, logits_BlV, top_k=0, top_p=0.0, rng=None, num_samples=1):
        self.logits.append(logits_BlV.clone())
        self.margins.append(self.margin(logits_BlV.double(), top_k, top_p))
        out = self.orig(logits_BlV, top_k=top_k, top_p=top_p, rng=rng, num_samples=num_samples)
        self.keep.append(torch.isfinite(logits_BlV))
        if self.replay is not None:
            out = self.replay[len(self.idx)].unsqueeze(-1)
        self.idx.append(out[:, :, 0].clone())
        return out

    @staticmethod
    def margin(lg, top_k, top_p):
        """Smallest distance of any decision from its threshold (top-k: gap
        between the k-th and (k+1)-th logit; top-p: |cumsum - (1 - p)|)."""
        m = math.inf
        V = lg.shape[-1]
        if top_k > 0:
            s = lg.sort(dim=-1, descending=True).values
            if top_k < V:
                m = min(m, (s[..., top_k - 1] - s[..., top_k]).min().item())
            lg = lg.masked_fill(lg < s[..., top_k - 1:top_k], -math.inf)
        if top_p > 0:
            cs = lg.sort(dim=-1).values.softmax(dim=-1).cumsum(dim=-1)
            m = min(m, (cs - (1 - top_p)).abs().min().item())
        return m


def build_var(O, vae, c, seed):
    var = O["var"].VAR(vae_local=vae, num_classes=c["num_classes"], depth=c["depth"], embed_dim=c["embed_dim"],
                       num_heads=c["num_heads"], mlp_ratio=4.0, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0,
                       norm_eps=1e-6, shared_aln=c["shared_aln"], cond_drop_rate=0.0,
                       attn_l2_norm=c["attn_l2_norm"], patch_nums=PN, flash_if_available=False,
                       fused_if_available=False)
    extra = {}
    if c["attn_l2_norm"]:
        H = c["num_heads"]

        def scale_mul(p, H=H):  # around ln 4; head 0 of block 0 above ln 100 (clamped)
            return math.log(4.0) + 0.5 * torch.randn(p.shape)

        for i in range(c["depth"]):
            extra[f"blocks.{i}.attn.scale_mul_1H11"] = scale_mul
    randomize_(var, seed=seed, extra=extra)
    if c["attn_l2_norm"]:
        with torch.no_grad():
            var.blocks[0].attn.scale_mul_1H11[0, 0, 0, 0] = 5.0
    return var.eval()


def var_fns(var, c, x_tf, rec):
    logits = var(torch.tensor(c["tf_label"]), x_tf)
    img = var.autoregressive_infer_cfg(B=2, label_B=torch.tensor(c["sample_label"]), g_seed=c["seed"], cfg=c["cfg"],
                                       top_k=c["top_k"], top_p=c["top_p"], more_smooth=False)
    return dict(logits=logits, sample_image=img, sample_logits=torch.cat(rec.logits, dim=1),
                sample_keep=torch.cat(rec.keep, dim=1), sample_idx=torch.cat(rec.idx, dim=1))


def make_var(O, outdir, ref, case, c, vae, vq_out, seed):
    var = build_var(O, vae, c, seed)
    orig = O["helpers"].sample_with_top_k_top_p_
    x_tf = vq_out["var_input"].float()
    with torch.no_grad():
        # f64 reference, recording the indices its torch RNG draws.
        vae64 = copy.deepcopy(vae).double()
        var64 = copy.deepcopy(var).double()
        var64.vae_proxy, var64.vae_quant_proxy = (vae64,), (vae64.quantize,)
        rec64 = Recorder(orig)
        O["var"].sample_with_top_k_top_p_ = rec64
        with f64_mode():
            out64 = var_fns(var64, c, x_tf.double(), rec64)
        # The same in fp32, replaying those indices.
        rec32 = Recorder(orig, replay=rec64.idx)
        O["var"].sample_with_top_k_top_p_ = rec32
        out32 = var_fns(var, c, x_tf, rec32)
        O["var"].sample_with_top_k_top_p_ = orig
    margin = min(rec64.margins)
    assert margin > 1e-5, f"{case}: top-k/top-p margin {margin:g} too small"
    assert torch.equal(rec32.keep[0], rec64.keep[0])
    errs = {k: rel_err(out32[k], out64[k]) for k in ("logits", "sample_image", "sample_logits")}
    config = dict(num_classes=c["num_classes"], depth=c["depth"], embed_dim=c["embed_dim"],
                  num_heads=c["num_heads"], mlp_ratio=4.0, norm_eps=1e-6, shared_aln=c["shared_aln"],
                  attn_l2_norm=c["attn_l2_norm"], patch_nums=list(PN), vocab_size=VQ["vocab_size"],
                  Cvae=VQ["z_channels"])
    write_model(outdir, case, var, config)
    io = dict(label=torch.tensor(c["tf_label"], dtype=torch.int32), x_BLCv_wo_first_l=x_tf, logits=out64["logits"],
              sample_label=torch.tensor(c["sample_label"], dtype=torch.int32),
              sample_logits=out64["sample_logits"], sample_keep=i32(out64["sample_keep"]),
              sample_idx=i32(out64["sample_idx"]), sample_image=out64["sample_image"])
    write_io(outdir, case, io, dict(
        tolerance=TOLERANCE, reference=ref, model=f"{case}.model.safetensors", vqvae="var_vq.model.safetensors",
        description="logits = VAR.forward(label, x_BLCv_wo_first_l) (cond_drop_rate 0, block-causal mask); "
                    "sample_* from autoregressive_infer_cfg(B=2, label_B=sample_label, g_seed, cfg, top_k, top_p, "
                    "more_smooth=False): sample_logits = the CFG-combined logits handed to sample_with_top_k_top_p_ "
                    "at each scale (concatenated over scales), sample_keep = 1 where that call left the logit "
                    "finite, sample_idx = the indices it drew with torch's RNG, sample_image = the returned image "
                    "in [0,1]",
        cfg=c["cfg"], top_k=c["top_k"], top_p=c["top_p"], g_seed=c["seed"],
        fp32_torch_rel_err=f"{max(errs.values()):.3e}", topk_topp_min_margin=f"{margin:.3e}"))
    print(f"{case}: fp32 rel err {max(errs.values()):.2e} ({', '.join(f'{k} {v:.1e}' for k, v in errs.items())}), "
          f"top-k/p margin {margin:.2e}, idx {out64['sample_idx'][0, :8].tolist()}...")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--var-repo", required=True, help=f"FoundationVision/VAR checkout (commit {VAR_COMMIT})")
    ap.add_argument("--out", default=HERE)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    O = import_official(a.var_repo)
    import safetensors

    ref = (f"FoundationVision/VAR {VAR_COMMIT} (models/*.py sha256 {O['sha']}), torch {torch.__version__}, "
           f"numpy {np.__version__}, safetensors {safetensors.__version__}")
    print(ref)
    vae, vq_out = make_vq(O, a.out, ref)
    for i, (case, c) in enumerate(VAR_CASES.items()):
        make_var(O, a.out, ref, case, c, vae, vq_out, seed=10 + i)
    total = sum(os.path.getsize(os.path.join(a.out, f)) for f in os.listdir(a.out) if f.startswith("var_"))
    print(f"total size of var_* files: {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
