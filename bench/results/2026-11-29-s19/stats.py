import json, struct, sys, collections
for f in sys.argv[1:]:
    b = open(f, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); d = b[8 + n:]
    def arr(k, fmt, sz):
        o = h[k]["data_offsets"]; raw = d[o[0]:o[1]]
        return [struct.unpack_from(fmt, raw, i * sz)[0] for i in range(len(raw) // sz)]
    items, ps = arr("items", "<q", 8), arr("pass", "<B", 1)
    g = collections.defaultdict(list)
    for i, p in zip(items, ps): g[i].append(p)
    mixed = sum(1 for v in g.values() if 0 < sum(v) < len(v))
    pairs = sum(sum(v) * (len(v) - sum(v)) for v in g.values())
    print(f, len(items), "candidates", len(g), "items", sum(ps), "passed", mixed, "mixed items", pairs, "pairs")
