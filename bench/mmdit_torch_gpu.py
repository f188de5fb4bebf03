"""PyTorch twin of bench/mmdit_gpu.c: the SD3-medium MMDiT (depth 24,
hidden 1536 = 24 heads of 64, patch 2, 16 latent channels, joint dim 4096,
pooled 2048, pos_embed_max_size 192, no QK-norm) at 1024x1024 (4096 image
tokens) with 333 text tokens, random weights, in eager mode on CUDA with
F.scaled_dot_product_attention, no_grad, batch 1 and 2, in fp32 (TF32 off),
tf32 (TF32 matmuls allowed) and bf16 (weights and activations bf16): median ms
(CUDA events) of one JointTransformerBlock (block 0) and of the full forward.

The model is written out here from diffusers' formulas (transformer_sd3.py
SD3Transformer2DModel, attention.py JointTransformerBlock,
attention_processor.py JointAttnProcessor2_0, normalization.py
AdaLayerNormZero / AdaLayerNormContinuous, embeddings.py PatchEmbed /
CombinedTimestepTextProjEmbeddings), so only torch is needed. Its parameter
names are diffusers' (so mmdit_save files and diffusers state dicts load into
it); bench/mmdit_parity.py checks it against silt (and against diffusers when
importable) with shared weights.

With --silt FILE (bench_mmdit_gpu's output, lines
"silt_ms <block|full> <mode> <batch> <ms>") it prints one table with silt's ms
next to torch's, both TFLOP/s, and the ratio torch/silt (> 1: silt is faster).
silt's bf16 rows are bf16 GEMM operands and bf16 attention, with the adaLN
and GELU outputs written as bf16 and the residual stream fp32; torch's are
everything in bf16 (silt's bf16w rows, fp32 activations, are not compared).

    python bench/mmdit_torch_gpu.py [--reps 10] [--full-reps 3] [--no-full] [--text 333] [--silt FILE]
Exit 0 without torch or CUDA (it says so), 1 on a failure.
"""
import argparse
import json
import math
import statistics
import struct
import sys
import time

SD3_MEDIUM = dict(depth=24, heads=24, head_dim=64, patch=2, in_channels=16, out_channels=16, joint_dim=4096,
                  pooled_dim=2048, pos_max=192, qk_norm=False)
# bench_mmdit_gpu --tiny: a smoke test of the bench (32x32 latent, 20 text tokens).
TINY = dict(SD3_MEDIUM, depth=2, heads=2, joint_dim=64, pooled_dim=32, pos_max=16)


def make_classes(torch):
    """The twin's modules: (JointBlock, SD3). Names follow diffusers' state dict."""
    nn = torch.nn
    F = torch.nn.functional

    def ln(x):  # LayerNorm without affine, eps 1e-6 (norm1, norm2, norm1_context, norm_out)
        return F.layer_norm(x, (x.shape[-1],), eps=1e-6)

    class RMSNorm(nn.Module):  # diffusers RMSNorm(head_dim, eps 1e-6): in fp32, then weight
        def __init__(self, dim):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(dim))

        def forward(self, x):
            var = x.float().pow(2).mean(-1, keepdim=True) if x.dtype != torch.float64 else x.pow(2).mean(-1, keepdim=True)
            y = x * torch.rsqrt(var + 1e-6).to(x.dtype)
            return y.to(self.weight.dtype) * self.weight

    class Linear1(nn.Module):  # a module holding one `linear` (AdaLayerNormZero / Continuous)
        def __init__(self, din, dout):
            super().__init__()
            self.linear = nn.Linear(din, dout)

    class Proj(nn.Module):  # GELU(approximate="tanh") holds `proj`
        def __init__(self, din, dout):
            super().__init__()
            self.proj = nn.Linear(din, dout)

    class FeedForward(nn.Module):  # net.0 = GELU-tanh(Linear(D, 4D)), net.1 = dropout, net.2 = Linear(4D, D)
        def __init__(self, d):
            super().__init__()
            self.net = nn.ModuleList([Proj(d, 4 * d), nn.Identity(), nn.Linear(4 * d, d)])

        def forward(self, x):
            return self.net[2](F.gelu(self.net[0].proj(x), approximate="tanh"))

    class JointAttention(nn.Module):  # Attention + JointAttnProcessor2_0
        def __init__(self, d, heads, qk_norm, pre_only):
            super().__init__()
            self.heads, self.pre_only = heads, pre_only
            self.to_q, self.to_k, self.to_v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
            self.add_q_proj, self.add_k_proj, self.add_v_proj = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
            self.to_out = nn.ModuleList([nn.Linear(d, d)])
            if not pre_only:
                self.to_add_out = nn.Linear(d, d)
            if qk_norm:
                hd = d // heads
                self.norm_q, self.norm_k = RMSNorm(hd), RMSNorm(hd)
                self.norm_added_q, self.norm_added_k = RMSNorm(hd), RMSNorm(hd)
            self.qk_norm = qk_norm

        def forward(self, x, c):
            B, N, D = x.shape
            H = self.heads

            def heads(t):
                return t.view(B, -1, H, D // H).transpose(1, 2)

            q, k, v = heads(self.to_q(x)), heads(self.to_k(x)), heads(self.to_v(x))
            cq, ck, cv = heads(self.add_q_proj(c)), heads(self.add_k_proj(c)), heads(self.add_v_proj(c))
            if self.qk_norm:
                q, k, cq, ck = self.norm_q(q), self.norm_k(k), self.norm_added_q(cq), self.norm_added_k(ck)
            # [image, text] along the sequence (diffusers' order), no mask.
            o = F.scaled_dot_product_attention(torch.cat([q, cq], 2), torch.cat([k, ck], 2), torch.cat([v, cv], 2))
            o = o.transpose(1, 2).reshape(B, -1, D)
            ox = self.to_out[0](o[:, :N])
            return ox, (None if self.pre_only else self.to_add_out(o[:, N:]))

    class JointBlock(nn.Module):  # JointTransformerBlock (no dual attention: SD3-medium)
        def __init__(self, d, heads, qk_norm, pre_only):
            super().__init__()
            self.pre_only = pre_only
            self.norm1 = Linear1(d, 6 * d)  # AdaLayerNormZero
            # context_pre_only: AdaLayerNormContinuous (scale, shift), else AdaLayerNormZero.
            self.norm1_context = Linear1(d, (2 if pre_only else 6) * d)
            self.attn = JointAttention(d, heads, qk_norm, pre_only)
            self.ff = FeedForward(d)
            if not pre_only:
                self.ff_context = FeedForward(d)

        def forward(self, x, c, temb):
            st = F.silu(temb)
            sh, sc, g, shm, scm, gm = self.norm1.linear(st).chunk(6, dim=1)
            nx = ln(x) * (1 + sc[:, None]) + sh[:, None]
            ec = self.norm1_context.linear(st)
            if self.pre_only:
                csc, csh = ec.chunk(2, dim=1)
            else:
                csh, csc, cg, cshm, cscm, cgm = ec.chunk(6, dim=1)
            nc = ln(c) * (1 + csc[:, None]) + csh[:, None]
            ax, ac = self.attn(nx, nc)
            x = x + g[:, None] * ax
            x = x + gm[:, None] * self.ff(ln(x) * (1 + scm[:, None]) + shm[:, None])
            if self.pre_only:
                return x, None
            c = c + cg[:, None] * ac
            c = c + cgm[:, None] * self.ff_context(ln(c) * (1 + cscm[:, None]) + cshm[:, None])
            return x, c

    class PatchEmbed(nn.Module):  # proj conv + the stored pos_max^2 sin-cos table, centre-cropped
        def __init__(self, cin, d, p, pos_max):
            super().__init__()
            self.proj = nn.Conv2d(cin, d, p, stride=p)
            self.register_buffer("pos_embed", torch.zeros(1, pos_max * pos_max, d))
            self.pos_max = pos_max

        def forward(self, x):
            p = self.proj.kernel_size[0]
            h, w = x.shape[2] // p, x.shape[3] // p
            M = self.pos_max
            top, left = (M - h) // 2, (M - w) // 2
            pos = self.pos_embed.reshape(1, M, M, -1)[:, top:top + h, left:left + w].reshape(1, h * w, -1)
            return self.proj(x).flatten(2).transpose(1, 2) + pos

    class MLP2(nn.Module):  # TimestepEmbedding / PixArtAlphaTextProjection: linear_2(silu(linear_1(x)))
        def __init__(self, din, d):
            super().__init__()
            self.linear_1, self.linear_2 = nn.Linear(din, d), nn.Linear(d, d)

        def forward(self, x):
            return self.linear_2(F.silu(self.linear_1(x)))

    class TimeText(nn.Module):  # CombinedTimestepTextProjEmbeddings
        def __init__(self, d, pooled):
            super().__init__()
            self.timestep_embedder, self.text_embedder = MLP2(256, d), MLP2(pooled, d)

        def forward(self, t, pooled):
            # Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0), in fp32 as diffusers.
            half = 128
            ex = -math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half
            a = t.float()[:, None] * torch.exp(ex)[None]
            tp = torch.cat([torch.cos(a), torch.sin(a)], dim=1).to(pooled.dtype)
            return self.timestep_embedder(tp) + self.text_embedder(pooled)

    class SD3(nn.Module):  # SD3Transformer2DModel (no dual attention)
        def __init__(self, depth, heads, head_dim, patch, in_channels, out_channels, joint_dim, pooled_dim, pos_max,
                     qk_norm):
            super().__init__()
            d = heads * head_dim
            self.patch, self.cout = patch, out_channels
            self.pos_embed = PatchEmbed(in_channels, d, patch, pos_max)
            self.time_text_embed = TimeText(d, pooled_dim)
            self.context_embedder = nn.Linear(joint_dim, d)
            self.transformer_blocks = nn.ModuleList(
                JointBlock(d, heads, qk_norm, i == depth - 1) for i in range(depth))
            self.norm_out = Linear1(d, 2 * d)  # AdaLayerNormContinuous: (scale, shift)
            self.proj_out = nn.Linear(d, patch * patch * out_channels)

        def forward(self, x, t, enc, pooled):
            B, _, H, W = x.shape
            p = self.patch
            h = self.pos_embed(x)
            temb = self.time_text_embed(t, pooled)
            c = self.context_embedder(enc)
            for blk in self.transformer_blocks:
                h, c = blk(h, c, temb)
            scale, shift = self.norm_out.linear(F.silu(temb)).chunk(2, dim=1)
            h = self.proj_out(ln(h) * (1 + scale[:, None]) + shift[:, None])
            h = h.reshape(B, H // p, W // p, p, p, self.cout)
            return torch.einsum("nhwpqc->nchpwq", h).reshape(B, self.cout, H, W)

    return JointBlock, SD3


def read_safetensors(path, torch):
    """{name: tensor} and the metadata of a safetensors file (no safetensors package needed)."""
    dt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I32": torch.int32,
          "I64": torch.int64, "F64": torch.float64}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        t = torch.frombuffer(bytearray(data[s:e]), dtype=dt[v["dtype"]]) if e > s else torch.zeros(0, dtype=dt[v["dtype"]])
        out[k] = t.reshape(v["shape"]).clone()
    return out, hdr.get("__metadata__", {})


# FLOPs (multiply-adds x 2) per batch row, as bench/mmdit_gpu.c block_gflop / full_gflop.
def block_gflop(D, N, T, pre_only=False):
    L = N + T
    lin = 2 * (N * 12 * D * D + T * 3 * D * D) if pre_only else 2 * L * 12 * D * D
    ada = 2 * D * D * (6 + (2 if pre_only else 6))
    return (lin + ada + 4 * L * L * D) / 1e9


def full_gflop(cfg, N, T):
    D, pp = cfg["heads"] * cfg["head_dim"], cfg["patch"] ** 2
    g = (cfg["depth"] - 1) * block_gflop(D, N, T) + block_gflop(D, N, T, True)
    rest = 2 * (N * D * cfg["in_channels"] * pp + T * cfg["joint_dim"] * D + 256 * D + D * D + cfg["pooled_dim"] * D
                + D * D + 2 * D * D + N * D * pp * cfg["out_channels"])
    return g + rest / 1e9


def fill(torch, shape, salt, dtype, device):
    """bench_mmdit_gpu's deterministic inputs: ((i 7919 + salt 104729) % 1000) / 500 - 1."""
    n = math.prod(shape)
    i = torch.arange(n, device=device, dtype=torch.int64)
    return (((i * 7919 + salt * 104729) % 1000).double() / 500.0 - 1.0).reshape(shape).to(dtype)


def time_fn(torch, fn, warm, reps, device):
    """Median ms of fn: CUDA events on a GPU, the host clock on the CPU (--device cpu, a smoke test)."""
    cuda = device == "cuda"
    if cuda:
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    with torch.no_grad():
        for r in range(warm + reps):
            if cuda:
                torch.cuda.synchronize()
                e0.record()
            t0 = time.perf_counter()
            fn()
            if cuda:
                e1.record()
                e1.synchronize()
            ms = e0.elapsed_time(e1) if cuda else 1e3 * (time.perf_counter() - t0)
            if r >= warm:
                times.append(ms)
    return statistics.median(times)


def read_silt(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 5 and p[0] == "silt_ms":
                    out[(p[1], p[2], int(p[3]))] = float(p[4])
    except OSError as e:
        print(f"mmdit_torch_gpu: cannot read {path}: {e}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--full-reps", type=int, default=3)
    ap.add_argument("--no-full", action="store_true")
    ap.add_argument("--text", type=int, default=333)
    ap.add_argument("--silt", help="bench_mmdit_gpu output with silt_ms lines")
    ap.add_argument("--tiny", action="store_true", help="bench_mmdit_gpu --tiny's model (a smoke test)")
    ap.add_argument("--device", default="cuda", help="cuda, or cpu for a smoke test of this script")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("mmdit_torch_gpu: torch not importable; skipped")
        return 0
    dev = a.device
    if dev == "cuda" and not torch.cuda.is_available():
        print("mmdit_torch_gpu: torch has no CUDA device; skipped")
        return 0
    silt = read_silt(a.silt) if a.silt else {}
    cfg = TINY if a.tiny else SD3_MEDIUM
    D = cfg["heads"] * cfg["head_dim"]
    Hl = Wl = 32 if a.tiny else 128
    N, T = (Hl // cfg["patch"]) * (Wl // cfg["patch"]), (20 if a.tiny and a.text == 333 else a.text)
    _, SD3 = make_classes(torch)
    torch.manual_seed(0)
    with torch.device(dev):  # build on the device (fast init); torch >= 2.0
        model = SD3(**cfg)
        torch.nn.init.normal_(model.pos_embed.pos_embed, std=0.02)  # not zeros (as silt's sin-cos table)
    model = model.eval()
    blk = model.transformer_blocks[0]
    rows = []
    for mode in ("fp32", "tf32", "bf16"):
        torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
        torch.backends.cudnn.allow_tf32 = mode == "tf32"
        dtype = torch.bfloat16 if mode == "bf16" else torch.float32
        model = model.to(dtype)
        for B in (1, 2):
            x, c, temb = (fill(torch, (B, N, D), 1, dtype, dev), fill(torch, (B, T, D), 2, dtype, dev),
                          fill(torch, (B, D), 3, dtype, dev))
            rows.append(("block", mode, B, time_fn(torch, lambda: blk(x, c, temb), 3, a.reps, dev)))
            del x, c, temb
            if not a.no_full:
                lat = fill(torch, (B, cfg["in_channels"], Hl, Wl), 4, dtype, dev)
                enc = fill(torch, (B, T, cfg["joint_dim"]), 5, dtype, dev)
                pooled = fill(torch, (B, cfg["pooled_dim"]), 6, dtype, dev)
                t = torch.tensor([999.0, 431.25][:B], device=dev)
                rows.append(("full", mode, B, time_fn(torch, lambda: model(lat, t, enc, pooled), 1, a.full_reps, dev)))
                del lat, enc, pooled
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    gf = {"block": block_gflop(D, N, T), "full": full_gflop(cfg, N, T)}
    where = torch.cuda.get_device_name() if dev == "cuda" else dev
    print(f"{'tiny' if a.tiny else 'SD3-medium'} MMDiT ({N} image + {T} text tokens), torch {torch.__version__} "
          f"eager + SDPA on {where}; median of {a.reps} (block) / {a.full_reps} (full) runs ({'CUDA events' if dev == 'cuda' else 'host clock'}) "
          f"after 3 / 1 warm-ups; GFLOP per row: block {gf['block']:.1f}, full {gf['full']:.1f}")
    print(f"{'part':<6} {'mode':<6} {'batch':>5} {'torch ms':>10} {'silt ms':>10} {'torch TF/s':>10} "
          f"{'silt TF/s':>10} {'torch/silt':>11}")
    nan = float("nan")
    for part, mode, B, ms in rows:
        s = silt.get((part, mode, B))
        print(f"{part:<6} {mode:<6} {B:>5} {ms:>10.3f} {s if s else nan:>10.3f} {gf[part] * B / ms:>10.1f} "
              f"{gf[part] * B / s if s else nan:>10.1f} {(ms / s) if s else nan:>11.2f}")
        print(f"torch_ms {part} {mode} {B} {ms:.4f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
