#!/usr/bin/env python3
"""Offline best-of-n from judge_scores output: for each cosine weight w, the
reward logit + w * 100 * cos picks one candidate per group; prints the pass
rate of the picks (overall and per category), of candidate 0 (plain), of the
oracle, and the head's pairwise accuracy (a passed candidate's reward above a
failed one's of the same group). Only groups with >= 2 candidates count.
usage: rerank.py SCORES.txt [w,w,...]"""
import sys
from collections import defaultdict

rows = defaultdict(list)
for line in open(sys.argv[1]):
    g, c, p, lg, cs, cat = line.split()
    rows[g].append((int(c), int(p), float(lg), float(cs), cat))
ws = [float(w) for w in (sys.argv[2] if len(sys.argv) > 2 else "0,0.5,1,2,3,1000").split(",")]
groups = {g: r for g, r in rows.items() if len(r) >= 2}
n = len(groups)
cats = sorted({r[0][4] for r in groups.values()})
plain = sum(min(r, key=lambda t: t[0])[1] for r in groups.values()) / n
oracle = sum(max(t[1] for t in r) for r in groups.values()) / n
print(f"{sys.argv[1]}: {n} groups, plain {plain:.3f}, oracle {oracle:.3f}")
for w in ws:
    tot, pc, pairs, right = 0, defaultdict(lambda: [0, 0]), 0, 0
    for r in groups.values():
        sc = [(t[2] + w * 100 * t[3]) if w < 1000 else t[3] for t in r]
        k = max(range(len(r)), key=lambda i: sc[i])
        tot += r[k][1]
        pc[r[0][4]][0] += r[k][1]
        pc[r[0][4]][1] += 1
        for i in range(len(r)):
            for j in range(len(r)):
                if r[i][1] and not r[j][1]:
                    pairs += 1
                    right += sc[i] > sc[j]
    label = f"w {w:g}" if w < 1000 else "cos only"
    print(f"  {label:9s} best-of-n {tot / n:.3f}  pair acc {right / max(pairs, 1):.3f} ({pairs} pairs)  " +
          " ".join(f"{c[:8]} {pc[c][0] / pc[c][1]:.2f}" for c in cats))
