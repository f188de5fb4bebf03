#!/usr/bin/env python3
"""README table rows from gen eval --suite --json files: rows.py LABEL=FILE ..."""
import json, sys
cats = ["single_object", "two_objects", "counting", "colours", "position", "colour_attribution", "background"]
for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    d = json.load(open(path))
    c = d["categories"]
    cells = ["%.3f" % c[k]["pass_rate"] if k in c and c[k]["n"] else "-" for k in cats]
    print("| %s | %d | **%.3f** | %s | %.3f | %.1f | %.3f | %.2f |" % (label, d["items"], d["geneval"], " | ".join(cells),
          d["soft_score"], d["clip_score"], d["fd"], d["images_per_s"]))
