#!/usr/bin/env python3
"""Writes the seed corpus for tests/fuzz/fuzz_safetensors.c into
tests/fuzz/corpus/safetensors/: small valid files (every dtype, metadata with
escapes, empty and scalar tensors) and malformed ones (one defect each).
Plain Python, no dependencies. Run from anywhere; rewrites the folder's st_*
seeds (crash-* reproducers found by fuzzing are kept as they are)."""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "safetensors")
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4,
         "F32": 4, "F64": 8, "I64": 8, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}


def image(header, data=b"", pad=True):
    """header: str or bytes of JSON; padded with spaces to 8-byte alignment."""
    h = header.encode() if isinstance(header, str) else header
    if pad:
        h += b" " * (-(8 + len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + data


def valid(tensors, metadata=None):
    """tensors: list of (name, dtype, shape); data bytes are a counting pattern."""
    hdr, off = {}, 0
    if metadata is not None:
        hdr["__metadata__"] = metadata
    for name, dt, shape in tensors:
        n = SIZES[dt]
        for d in shape:
            n *= d
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    return image(json.dumps(hdr, separators=(",", ":")), bytes(i * 37 % 256 for i in range(off)))


def ent(dt, shape, b, e):
    return '{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}' % (dt, json.dumps(shape), b, e)


seeds = {
    "valid_small": valid([("w", "F32", [2, 3]), ("b", "BF16", [3]), ("i", "I64", [1])], {"format": "pt"}),
    "valid_all_dtypes": valid([("t_" + d.lower(), d, [2]) for d in SIZES]),
    "valid_empty": image("{}"),
    "valid_meta_only": image('{"__metadata__":{"k":"v\\n\\"q\\" \\u00e9 \\ud83d\\ude00"}}'),
    "valid_meta_many": valid([("x", "U8", [1])], {"b": "2", "a": "1", "c\u00e9": "x\ty", "": ""}),
    "valid_meta_null": image('{"__metadata__":null}'),
    "valid_zero_size": valid([("z0", "F32", [0]), ("z1", "F16", [3, 0]), ("s", "F64", [])]),
    "valid_escaped_names": valid([('a"b\\c\n\u00e9\U0001F600', "U8", [2]), ("\u20ac", "I8", [1, 1])]),
    "valid_unpadded": image('{"a":' + ent("U16", [3], 0, 6) + "}", bytes(6), pad=False),
    "valid_8dims": valid([("d8", "U8", [1, 2, 1, 2, 1, 2, 1, 1])]),
    "bad_short": b"\x05\x00\x00",
    "bad_len_zero": struct.pack("<Q", 0) + b"{}",
    "bad_len_past_end": struct.pack("<Q", 100) + b"{}",
    "bad_len_huge": b"\xff" * 8 + b"{}",
    "bad_truncated_data": valid([("w", "F32", [4])])[:-3],
    "bad_unterminated": image('{"a":' + ent("F32", [1], 0, 4), bytes(4)),
    "bad_trailing": image('{"a":' + ent("F32", [1], 0, 4) + "}x", bytes(4)),
    "bad_dup_name": image('{"a":' + ent("F32", [1], 0, 4) + ',"a":' + ent("F32", [1], 4, 8) + "}", bytes(8)),
    "bad_dtype": image('{"a":' + ent("F33", [1], 0, 4) + "}", bytes(4)),
    "bad_shape_neg": image('{"a":' + ent("F32", [-1], 0, 4) + "}", bytes(4)),
    "bad_shape_float": image('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', bytes(4)),
    "bad_shape_overflow": image('{"a":' + ent("U8", [2**32, 2**32, 2**32], 0, 1) + "}", bytes(1)),
    "bad_offsets_order": image('{"a":' + ent("F32", [1], 4, 0) + "}", bytes(4)),
    "bad_size_mismatch": image('{"a":' + ent("F32", [2], 0, 4) + "}", bytes(4)),
    "bad_overlap": image('{"a":' + ent("F32", [2], 0, 8) + ',"b":' + ent("F32", [1], 4, 8) + "}", bytes(8)),
    "bad_hole": image('{"a":' + ent("F32", [1], 0, 4) + ',"b":' + ent("F32", [1], 8, 12) + "}", bytes(12)),
    "bad_extra_field": image('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":0}}', bytes(4)),
    "bad_meta_value": image('{"__metadata__":{"k":[1]}}'),
    "bad_deep": image('{"__metadata__":' + "[" * 80 + "]" * 80 + "}"),
    "bad_surrogate": image('{"\\ud800":' + ent("F32", [1], 0, 4) + "}", bytes(4)),
    "bad_utf8": image(b'{"\xc0\x80":' + ent("F32", [1], 0, 4).encode() + b"}", bytes(4)),
    "bad_bigint": image('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999999]}}', bytes(4)),
}

os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    if f.startswith("st_"):
        os.remove(os.path.join(OUT, f))
total = 0
for name, data in seeds.items():
    with open(os.path.join(OUT, "st_" + name), "wb") as f:
        f.write(data)
    total += len(data)
print(f"wrote {len(seeds)} seeds, {total} bytes, to {OUT}")
