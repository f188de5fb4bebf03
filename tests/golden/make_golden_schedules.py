#!/usr/bin/env python3
"""Golden data for sample/: diffusers' schedulers on a grid of settings.

For each case: the inference timesteps, sigmas (where the scheduler has them),
init_noise_sigma, and the final sample of a short run with a fixed fake model,
fixed initial noise and fixed per-step noise (injected, so no RNG is involved).
The fake model, the initial noise and the step noise are closed formulas that
tests/golden/test_schedules.c codes identically (keep them in sync):

    model(x, t)   = 0.1 x + 0.05 t / 1000                (eps / v / flow velocity)
    variance half = 0.9 tanh(x)                           (learned_range only)
    x_init[j]     = 1.1 sin(0.9 j + 0.3) + 0.2 cos(2.1 j) (then * init_noise_sigma)
    z[i][j]       = 1.3 sin(1.7 j + 0.61 i + 0.5)         (noise of step i)

all computed in float64 and rounded to float32. Latent shape (B,C,H,W) = (2,2,1,2).

Output: tests/golden/schedules.txt, a text file the C test reads without
dependencies:
    case key=value ...
    <name> <count> v1 v2 ...      (timesteps, sigmas, init_noise_sigma, x)
    end

Run:  /work/venv-ref/bin/python tests/golden/make_golden_schedules.py
"""
import math
import os
import sys

import numpy as np
import torch

import diffusers
from diffusers import (DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, FlowMatchEulerDiscreteScheduler)
import diffusers.schedulers.scheduling_ddpm as mod_ddpm
import diffusers.schedulers.scheduling_euler_ancestral_discrete as mod_euler_a

B, C, H, W = 2, 2, 1, 2
N = B * C * H * W
BETAS = {"linear": (1e-4, 0.02), "scaled_linear": (0.00085, 0.012)}
SPACINGS = [("leading", 0), ("leading", 1), ("trailing", 0), ("linspace", 0)]
STEPS = [1, 4, 20, 28, 50]


def f32(a):
    return np.asarray(a, dtype=np.float64).astype(np.float32)


def x_init():
    j = np.arange(N, dtype=np.float64)
    return f32(1.1 * np.sin(0.9 * j + 0.3) + 0.2 * np.cos(2.1 * j))


def z_step(i):
    j = np.arange(N, dtype=np.float64)
    return f32(1.3 * np.sin(1.7 * j + 0.61 * i + 0.5))


def fake_model(x, t, learned):
    xd = x.detach().numpy().astype(np.float64)
    out = f32(0.1 * xd + 0.05 * float(t) / 1000.0)
    if learned:  # (B, 2C, H, W): eps channels then variance channels
        var = f32(0.9 * np.tanh(xd))
        out = np.concatenate([out, var], axis=1)
    return torch.from_numpy(out)


def adm_timesteps(T, n):
    """guided-diffusion respace.py space_timesteps(T, str(n)), one section, descending."""
    frac_stride = 1 if n <= 1 else (T - 1) / (n - 1)
    cur, taken = 0.0, []
    for _ in range(n):
        taken.append(round(cur))
        cur += frac_stride
    return sorted(set(taken), reverse=True)


class Patched:
    """Makes a module's randn_tensor return the given noise (DDPM, Euler ancestral draw their own)."""

    def __init__(self, mod):
        self.mod, self.noise = mod, None

    def __enter__(self):
        self.orig = self.mod.randn_tensor
        self.mod.randn_tensor = lambda shape, **kw: self.noise.reshape(shape).clone()
        return self

    def __exit__(self, *a):
        self.mod.randn_tensor = self.orig


def make_scheduler(c):
    s = c["sampler"]
    pred = {"eps": "epsilon", "v": "v_prediction", "flow": None}[c["pred"]]
    if s == "flow_euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=c["shift"])
    kw = dict(num_train_timesteps=1000, beta_schedule=c["beta"], beta_start=c["beta_start"], beta_end=c["beta_end"],
              prediction_type=pred, steps_offset=c["offset"])
    if c["spacing"] != "adm":
        kw["timestep_spacing"] = c["spacing"]
    if s == "ddpm":
        return DDPMScheduler(clip_sample=bool(c["clip"]), variance_type=c["variance"], **kw)
    if s == "ddim":
        return DDIMScheduler(clip_sample=bool(c["clip"]), set_alpha_to_one=bool(c["alpha_one"]), **kw)
    if s == "euler":
        return EulerDiscreteScheduler(use_karras_sigmas=bool(c["karras"]), **kw)
    if s == "euler_a":
        return EulerAncestralDiscreteScheduler(**kw)
    if s == "dpmpp_2m":
        return DPMSolverMultistepScheduler(use_karras_sigmas=bool(c["karras"]), **kw)
    raise ValueError(s)


def run_case(c):
    sch = make_scheduler(c)
    if c["spacing"] == "adm":
        sch.set_timesteps(timesteps=adm_timesteps(1000, c["steps"]))
    else:
        sch.set_timesteps(c["steps"])
    learned = c.get("variance") == "learned_range"
    ins = float(getattr(sch, "init_noise_sigma", 1.0))
    x = torch.from_numpy(x_init()).reshape(B, C, H, W) * ins
    patch = {"ddpm": mod_ddpm, "euler_a": mod_euler_a}.get(c["sampler"])
    with Patched(patch or mod_ddpm) as p:
        for i, t in enumerate(sch.timesteps):
            xin = sch.scale_model_input(x, t) if hasattr(sch, "scale_model_input") else x
            out = fake_model(xin, t, learned)
            z = torch.from_numpy(z_step(i)).reshape(B, C, H, W)
            p.noise = z
            if c["sampler"] == "ddim":
                x = sch.step(out, t, x, eta=c["eta"], variance_noise=z if c["eta"] > 0 else None).prev_sample
            else:
                x = sch.step(out, t, x).prev_sample
    res = {"timesteps": sch.timesteps.to(torch.float64).numpy()}
    if c["sampler"] not in ("ddpm", "ddim"):
        res["sigmas"] = sch.sigmas.to(torch.float64).numpy()
    res["init_noise_sigma"] = np.array([ins])
    res["x"] = x.reshape(-1).to(torch.float64).numpy()
    return res


def base(sampler, **over):
    c = dict(sampler=sampler, beta="linear", offset=0, spacing="linspace", steps=20, pred="eps", karras=0,
             eta=0.0, shift=3.0, alpha_one=1, clip=0, variance="fixed_small")
    if sampler in ("ddpm", "ddim"):
        c["spacing"] = "leading"
    if sampler == "flow_euler":
        c["pred"] = "flow"
    if sampler == "euler_a":
        c["eta"] = 1.0
    c.update(over)
    c["beta_start"], c["beta_end"] = BETAS[c["beta"]]
    return c


def grid():
    cases = []
    for beta in BETAS:
        # SD1.x-like (scaled_linear) runs without clipping and with alpha_prod_0 at the end;
        # the linear ones keep diffusers' class defaults (clip on, final alpha 1).
        sd = beta == "scaled_linear"
        for spacing, offset in SPACINGS:
            for steps in STEPS:
                common = dict(beta=beta, spacing=spacing, offset=offset, steps=steps)
                cases.append(base("ddpm", clip=0 if sd else 1, **common))
                cases.append(base("ddim", clip=0 if sd else 1, alpha_one=0 if sd else 1, **common))
                for karras in (0, 1):
                    cases.append(base("euler", karras=karras, **common))
                    cases.append(base("dpmpp_2m", karras=karras, **common))
                cases.append(base("euler_a", **common))
    for shift in (1.0, 3.0):
        for steps in STEPS:
            cases.append(base("flow_euler", shift=shift, steps=steps))
    cases.append(base("flow_euler", shift=2.5, steps=20))
    # v-prediction, variances, eta, offsets the spacing ignores.
    for beta in BETAS:
        for s in ("ddpm", "ddim", "euler", "euler_a", "dpmpp_2m"):
            cases.append(base(s, beta=beta, pred="v", steps=20))
        cases.append(base("euler", beta=beta, pred="v", karras=1, steps=28, spacing="leading", offset=1))
        cases.append(base("dpmpp_2m", beta=beta, pred="v", karras=1, steps=28))
    cases.append(base("ddpm", variance="fixed_large", steps=20))
    cases.append(base("ddpm", variance="learned_range", steps=20, clip=0))
    cases.append(base("ddpm", variance="learned_range", steps=50, clip=0, pred="v"))
    cases.append(base("ddpm", variance="learned_range", spacing="adm", steps=25, clip=0))  # DiT original grid
    cases.append(base("ddpm", variance="learned_range", spacing="adm", steps=250, clip=0))
    cases.append(base("ddpm", spacing="adm", steps=4, clip=1))
    for eta in (0.5, 1.0):
        for spacing in ("leading", "trailing"):
            cases.append(base("ddim", eta=eta, spacing=spacing, steps=20, clip=0))
        cases.append(base("ddim", eta=eta, pred="v", steps=28, beta="scaled_linear", offset=1, alpha_one=0))
    cases.append(base("ddim", clip=1, alpha_one=0, steps=50, beta="scaled_linear", offset=1))
    for s in ("ddpm", "ddim", "euler", "euler_a", "dpmpp_2m"):
        cases.append(base(s, spacing="trailing", offset=1, steps=28))
        cases.append(base(s, spacing="linspace", offset=1, steps=28))
    return cases


def fmt(v):
    return "%.9g" % float(np.float32(v))


def main():
    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schedules.txt")
    lines = [
        "# generated by tests/golden/make_golden_schedules.py; do not edit",
        "# reference: diffusers %s, torch %s, numpy %s (torch CPU capability %s)"
        % (diffusers.__version__, torch.__version__, np.__version__, torch.backends.cpu.get_cpu_capability()),
        "meta diffusers %s" % diffusers.__version__,
        "meta latent_shape %d %d %d %d" % (B, C, H, W),
        # Tolerances test_schedules.c applies (and reaches: see its summary line).
        "meta tolerance timesteps exact_for_integer_grids rel_1e-6_for_fractional",
        "meta tolerance sigmas rel_2e-7 (about one float32 ulp)",
        "meta tolerance x rel_1e-5 of the sample's max magnitude",
    ]
    cases = grid()
    for c in cases:
        res = run_case(c)
        keys = ["sampler", "beta", "beta_start", "beta_end", "spacing", "offset", "steps", "pred", "karras", "eta",
                "shift", "alpha_one", "clip", "variance"]
        lines.append("case " + " ".join("%s=%s" % (k, c[k]) for k in keys))
        for name, vals in res.items():
            lines.append("%s %d %s" % (name, len(vals), " ".join(fmt(v) for v in vals)))
        lines.append("end")
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s: %d cases, %d bytes" % (out_path, len(cases), os.path.getsize(out_path)), file=sys.stderr)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
