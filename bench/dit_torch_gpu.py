"""PyTorch twin of bench/dit_gpu.c: a DiT-XL/2-size forward (depth 28,
hidden 1152, 16 heads, patch 2, 32x32x4 latent, random weights) in eager mode
on CUDA with F.scaled_dot_product_attention, no_grad, batch 1 and 8, in fp32
(TF32 off), tf32 (TF32 matmuls allowed) and bf16 (weights and activations
bf16); median ms over N runs (CUDA events) after 3 warm-ups. The model is
written out here (the DiT of facebookresearch/DiT models.py: adaLN-zero
blocks, timm attention, GELU-tanh MLP), so diffusers is not needed.

With --silt FILE (bench_dit_gpu's output, lines "silt_ms <mode> <batch> <ms>")
it prints one table with silt's ms next to torch's and the ratio torch/silt
(> 1: silt is faster). Note silt's bf16 row is bf16 GEMM operands, with the
adaLN and GELU outputs (the linears' inputs) written as bf16 and the residual
stream and attention inputs kept fp32; torch's is everything in bf16. silt's
bf16w row (fp32 activations) has no torch twin and is not in the table.

    python bench/dit_torch_gpu.py [--reps 20] [--silt bench_dit_gpu.log]
Exit 0 without torch or CUDA (it says so), 1 on a failure.
"""
import argparse
import math
import statistics
import sys


def build(torch, device, depth=28, hidden=1152, heads=16, patch=2, cin=4, cout=8, classes=1000, mlp=4608):
    nn = torch.nn
    F = torch.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ada = nn.Linear(hidden, 6 * hidden)
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.proj = nn.Linear(hidden, hidden)
            self.fc1 = nn.Linear(hidden, mlp)
            self.fc2 = nn.Linear(mlp, hidden)

        def forward(self, x, sc):
            B, T, D = x.shape
            sh1, s1, g1, sh2, s2, g2 = self.ada(sc).chunk(6, dim=1)
            h = F.layer_norm(x, (D,), eps=1e-6) * (1 + s1[:, None]) + sh1[:, None]
            q, k, v = self.qkv(h).reshape(B, T, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, D)
            x = x + g1[:, None] * self.proj(a)
            h = F.layer_norm(x, (D,), eps=1e-6) * (1 + s2[:, None]) + sh2[:, None]
            return x + g2[:, None] * self.fc2(F.gelu(self.fc1(h), approximate="tanh"))

    class DiT(nn.Module):
        def __init__(self):
            super().__init__()
            self.x_emb = nn.Conv2d(cin, hidden, patch, stride=patch)
            self.pos = nn.Parameter(torch.randn(1, (32 // patch) ** 2, hidden) * 0.02)
            self.t1, self.t2 = nn.Linear(256, hidden), nn.Linear(hidden, hidden)
            self.y_emb = nn.Embedding(classes + 1, hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(depth))
            self.fin_ada = nn.Linear(hidden, 2 * hidden)
            self.fin = nn.Linear(hidden, patch * patch * cout)

        def forward(self, x, t, y):
            B, C, H, W = x.shape
            h = self.x_emb(x).flatten(2).transpose(1, 2) + self.pos
            half = 128
            freqs = torch.exp(-math.log(10000) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
            a = t.float()[:, None] * freqs[None]
            tf = torch.cat([torch.cos(a), torch.sin(a)], dim=1).to(h.dtype)
            sc = F.silu(self.t2(F.silu(self.t1(tf))) + self.y_emb(y))
            for blk in self.blocks:
                h = blk(h, sc)
            shift, scale = self.fin_ada(sc).chunk(2, dim=1)
            h = F.layer_norm(h, (h.shape[-1],), eps=1e-6) * (1 + scale[:, None]) + shift[:, None]
            h = self.fin(h)
            g = H // patch
            h = h.reshape(B, g, g, patch, patch, cout)
            return torch.einsum("nhwpqc->nchpwq", h).reshape(B, cout, H, W)

    torch.manual_seed(0)
    try:
        with torch.device(device):  # build on the device (fast init); torch >= 2.0
            model = DiT()
    except (AttributeError, TypeError):
        model = DiT()
    return model.to(device).eval()


def time_forward(torch, model, B, dtype, reps):
    x = (torch.arange(B * 4 * 32 * 32, device="cuda") * 7919 % 1000 / 500.0 - 1.0).reshape(B, 4, 32, 32).to(dtype)
    t = torch.full((B,), 500.0, device="cuda")
    y = torch.tensor([1000 if (b % 3 == 0 and B > 1) else 207 for b in range(B)], device="cuda")
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    with torch.no_grad():
        for r in range(reps + 3):
            torch.cuda.synchronize()
            e0.record()
            model(x, t, y)
            e1.record()
            e1.synchronize()
            if r >= 3:
                times.append(e0.elapsed_time(e1))
    return statistics.median(times)


def read_silt(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 4 and p[0] == "silt_ms":
                    out[(p[1], int(p[2]))] = float(p[3])
    except OSError as e:
        print(f"dit_torch_gpu: cannot read {path}: {e}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--silt", help="bench_dit_gpu output with silt_ms lines")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("dit_torch_gpu: torch not importable; skipped")
        return 0
    if not torch.cuda.is_available():
        print("dit_torch_gpu: torch has no CUDA device; skipped")
        return 0
    silt = read_silt(a.silt) if a.silt else {}
    model = build(torch, "cuda")
    rows = []
    for mode in ("fp32", "tf32", "bf16"):
        torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
        torch.backends.cudnn.allow_tf32 = mode == "tf32"
        dtype = torch.bfloat16 if mode == "bf16" else torch.float32
        m = model.to(dtype)
        for B in (1, 8):
            rows.append((mode, B, time_forward(torch, m, B, dtype, a.reps)))
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"DiT-XL/2 forward, torch {torch.__version__} eager + SDPA on {torch.cuda.get_device_name()}, "
          f"median of {a.reps} (CUDA events) after 3 warm-ups")
    print(f"{'mode':<6} {'batch':>5} {'torch ms':>10} {'silt ms':>10} {'torch/silt':>11}")
    for mode, B, ms in rows:
        s = silt.get((mode, B))
        print(f"{mode:<6} {B:>5} {ms:>10.3f} {s if s else float('nan'):>10.3f} "
              f"{(ms / s) if s else float('nan'):>11.2f}")
        print(f"torch_ms {mode} {B} {ms:.4f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
