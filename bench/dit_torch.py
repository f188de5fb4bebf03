"""PyTorch twin of bench/dit.c: one DiT-XL/2-size forward (diffusers'
DiTTransformer2DModel, random init, fp32, CPU, no_grad), batch 1, 32x32x4
latent, median of N runs after a warm-up, with the thread count silt used.
Prints "torch_median_s <seconds>" for bench_dit to read.

The PyPI torch here is the CUDA build; it runs on the CPU but may need the
nvidia/*/lib folders of site-packages (cusparselt, nvshmem, nccl, cu13) on
LD_LIBRARY_PATH to import. If the first import fails, this script adds them
and re-executes itself once.
"""
import argparse
import glob
import os
import resource
import site
import statistics
import sys
import time


def import_torch():
    try:
        import torch  # noqa: F401
        return True
    except (ImportError, OSError):
        if os.environ.get("SILT_TORCH_REEXEC"):
            return False
    dirs = []
    for sp in site.getsitepackages() + [site.getusersitepackages()]:
        dirs += sorted(glob.glob(os.path.join(sp, "nvidia", "*", "lib")))
    if not dirs:
        return False
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(dirs + [env.get("LD_LIBRARY_PATH", "")]).rstrip(":")
    env["SILT_TORCH_REEXEC"] = "1"
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--layout", default="diffusers")
    ap.add_argument("--check", action="store_true", help="exit 0 when torch and diffusers import")
    a = ap.parse_args()
    if not import_torch():
        sys.exit(1)
    import torch
    try:
        from diffusers import DiTTransformer2DModel
    except ImportError:
        sys.exit(1)
    if a.check:
        return
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    # DiT-XL/2-256 (archs.md 1.4): same work for either layout.
    model = DiTTransformer2DModel(
        num_attention_heads=16, attention_head_dim=72, in_channels=4, out_channels=8, num_layers=28,
        patch_size=2, sample_size=32, num_embeds_ada_norm=1000, norm_type="ada_norm_zero",
        activation_fn="gelu-approximate", attention_bias=True, norm_elementwise_affine=False,
    ).float().eval()
    build = time.perf_counter() - t0
    x = torch.randn(1, 4, 32, 32)
    t = torch.tensor([500.0])
    y = torch.tensor([207])
    times = []
    with torch.no_grad():
        for r in range(a.reps + 1):
            t0 = time.perf_counter()
            model(x, timestep=t, class_labels=y).sample
            if r:
                times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, model built in {build:.1f} s; "
          f"forward times {', '.join(f'{v:.3f}' for v in times)} s; peak RSS {rss:.0f} MiB")
    print(f"torch_median_s {statistics.median(times):.6f}")


if __name__ == "__main__":
    main()
