#!/usr/bin/env python3
"""Pairs two world-GenEval runs item by item (`gen eval --suite ... --json
--per-item`): the items both pass, only A passes, only B passes, neither;
the exact two-sided McNemar test on the items that flip; the same per
category.

Two evaluations of the same suite with the same --seed draw the same noise
per item, so when they differ in one thing (the decoder, the guidance, a
checkpoint), the flips measure that thing with far less noise than two
overall pass rates: the items both pass or both fail cancel.

    gen eval --suite eval --json --per-item -q > a.json      # one setting
    gen eval --suite eval --json --per-item -q ... > b.json  # the other
    python3 tools/paired_eval.py a.json b.json [--json]

Standard library only. Exit 2 when the two runs do not pair (another suite,
seed or item list), with one line saying why.
"""
import argparse
import json
import math
import sys


def mcnemar_exact(b, c):
    """Two-sided exact McNemar p-value: b and c discordant counts, under H0
    each flip goes either way with probability 1/2 (binomial(b + c, 1/2))."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


def load(path):
    with open(path) as f:
        d = json.load(f)
    if "per_item" not in d:
        raise ValueError(f"{path} has no per_item list (run gen eval with --json --per-item)")
    return d


def tally(pairs):
    both = sum(1 for a, b in pairs if a and b)
    only_a = sum(1 for a, b in pairs if a and not b)
    only_b = sum(1 for a, b in pairs if b and not a)
    neither = len(pairs) - both - only_a - only_b
    return {"items": len(pairs), "both": both, "only_a": only_a, "only_b": only_b, "neither": neither,
            "pass_a": (both + only_a) / len(pairs) if pairs else 0.0,
            "pass_b": (both + only_b) / len(pairs) if pairs else 0.0,
            "p_mcnemar": mcnemar_exact(only_a, only_b)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    try:
        a, b = load(args.a), load(args.b)
    except (OSError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        print(f"paired_eval: {e}", file=sys.stderr)
        return 2
    for key in ("suite", "seed"):
        if a.get(key) != b.get(key):
            print(f"paired_eval: the runs differ in {key} ({a.get(key)} vs {b.get(key)}): their items do not pair",
                  file=sys.stderr)
            return 2
    ia = {(v["index"], v["caption"]): v for v in a["per_item"]}
    ib = {(v["index"], v["caption"]): v for v in b["per_item"]}
    if set(ia) != set(ib):
        print(f"paired_eval: the runs judged other items ({len(ia)} vs {len(ib)}, {len(set(ia) ^ set(ib))} unmatched)",
              file=sys.stderr)
        return 2
    keys = sorted(ia)
    out = {"overall": tally([(ia[k]["pass"], ib[k]["pass"]) for k in keys]), "categories": {}}
    for cat in sorted({ia[k]["category"] for k in keys}):
        out["categories"][cat] = tally([(ia[k]["pass"], ib[k]["pass"]) for k in keys if ia[k]["category"] == cat])
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"A = {args.a}\nB = {args.b}")
    print("| items | pass A | pass B | both | only A | only B | neither | McNemar p |\n|---|---|---|---|---|---|---|---|")
    rows = [("overall", out["overall"])] + list(out["categories"].items())
    for name, t in rows:
        print(f"| {name} ({t['items']}) | {t['pass_a']:.3f} | {t['pass_b']:.3f} | {t['both']} | {t['only_a']} | "
              f"{t['only_b']} | {t['neither']} | {t['p_mcnemar']:.3g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
