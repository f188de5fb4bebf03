#!/usr/bin/env python3
# soup.py OUT IN...: the element-wise mean of exported world MMDiT files (same keys, shapes, dtypes), in
# float32 then back to each tensor's dtype; the metadata of the first input, plus silt.soup naming the inputs.
import json, struct, sys
import numpy as np
DT = {"F16": np.float16, "F32": np.float32}  # what gen train --export writes
def load(f):
    b = open(f, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    return h, {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], DT[v["dtype"]])
               for k, v in h.items() if k != "__metadata__"}
out, ins = sys.argv[1], sys.argv[2:]
h0, t0 = load(ins[0])
acc = {k: v.astype(np.float32) for k, v in t0.items()}
for f in ins[1:]:
    h, t = load(f)
    assert set(t) == set(t0), f
    assert all(h[k]["shape"] == h0[k]["shape"] and h[k]["dtype"] == h0[k]["dtype"] for k in t0), f + ": shapes or dtypes differ"
    for k in acc: acc[k] += t[k].astype(np.float32)
import os
meta = dict(h0["__metadata__"], **{"silt.soup": "mean of " + ", ".join(os.path.basename(os.path.dirname(f)) + "/" + os.path.basename(f) for f in ins)})
body, head, off = [], {"__metadata__": meta}, 0
for k in sorted(acc):
    a = (acc[k] / len(ins)).astype(t0[k].dtype).tobytes()
    head[k] = {"dtype": h0[k]["dtype"], "shape": h0[k]["shape"], "data_offsets": [off, off + len(a)]}
    body.append(a); off += len(a)
hb = json.dumps(head).encode(); hb += b" " * (-len(hb) % 8)
open(out, "wb").write(struct.pack("<Q", len(hb)) + hb + b"".join(body))
