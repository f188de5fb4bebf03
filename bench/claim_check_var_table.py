#!/usr/bin/env python3
"""The claim-check table of bench/claim_check_var.sh from its JSON lines
(one `gen eval --suite --arch var --json` object per configuration, with
key/label/flags added): markdown rows per method, and the verdict on the
paper's "TTS-VAR N=2 beats best-of-8". Usage: claim_check_var_table.py FILE"""
import json
import math
import sys
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if not rows: sys.exit(0)
cats = list(rows[0]["categories"].keys())
short = {"single_object": "single", "two_objects": "two obj.", "counting": "counting", "colours": "colours",
         "position": "position", "colour_attribution": "colour attr.", "background": "background"}
print(f"world-GenEval on the {rows[0]['suite']} suite ({rows[0]['items']} prompts), world VAR {rows[0]['model']}:\n")
print("| method | " + " | ".join(short.get(c, c) for c in cats) +
      " | overall | soft | token-fwd (x plain) | FLOPs (x plain) | decodes/img | reward calls/img | s/img |")
print("|---|" + "---|" * len(cats) + "---|---|---|---|---|---|---|")
for d in rows:
    v, n = d["var"], d["items"]
    tf = v["token_forwards"] / v["plain_token_forwards"] if v["plain_token_forwards"] else 0
    fl = v["flops"] / v["plain_flops"] if v["plain_flops"] else 0
    cells = [f"{d['categories'][c]['pass_rate']:.3f}" for c in cats]
    print(f"| {d['label']} | " + " | ".join(cells) +
          f" | **{d['geneval']:.3f}** | {d['soft_score']:.3f} | {tf:.2f} | {fl:.2f} | {v['decodes']/n:.1f} | "
          f"{v['reward_calls']/n:.1f} | {d['gen_seconds']/n:.3f} |")
by = {d["key"]: d for d in rows}
if "tts2" in by and "bon8" in by:
    a, b = by["tts2"], by["bon8"]
    # Two pass rates over the same n prompts: a difference under two binomial
    # standard errors is not a verdict either way.
    pa, pb, n = a["geneval"], b["geneval"], a["items"]
    se = math.sqrt(max(pa * (1 - pa) + pb * (1 - pb), 1e-12) / n)
    if abs(pa - pb) < 2 * se:
        verdict = f"is not decided here (the difference is within two standard errors, +-{2 * se:.3f})"
    else:
        verdict = "holds here" if pa > pb else "does not hold here"
    print(f"\nTTS-VAR N=2 {pa:.3f} vs best-of-8 {pb:.3f}: the paper's claim {verdict} "
          f"(at {a['var']['token_forwards']/b['var']['token_forwards']:.2f}x best-of-8's token-forwards).")
