#!/usr/bin/env python3
"""rerank.py's best-of-n (reward logit + w 100 cos) split by whether a group's
caption occurs in the training sets' captions (caption lists "group<TAB>caption").
usage: rerank_unseen.py SCORES.txt VAL_CAPS.txt TRAIN_CAPS.txt[,...] [w]"""
import sys
from collections import defaultdict
val = {l.split("\t")[0]: l.split("\t")[1].strip() for l in open(sys.argv[2])}
seen = set()
for f in sys.argv[3].split(","):
    seen |= {l.split("\t")[1].strip() for l in open(f)}
w = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
rows = defaultdict(list)
for line in open(sys.argv[1]):
    g, c, p, lg, cs, cat = line.split()
    rows[g].append((int(p), float(lg) + w * 100 * float(cs)))
for name, want in (("seen captions", True), ("unseen captions", False)):
    gs = [r for g, r in rows.items() if (val[g] in seen) == want and len(r) >= 2]
    pick = sum(max(r, key=lambda t: t[1])[0] for r in gs) / len(gs)
    orac = sum(max(t[0] for t in r) for r in gs) / len(gs)
    print(f"{sys.argv[1]} w {w:g} {name}: {len(gs)} groups, best-of-n {pick:.3f}, oracle {orac:.3f}")
