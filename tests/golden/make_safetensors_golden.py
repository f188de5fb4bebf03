#!/usr/bin/env python3
"""Writes tests/golden/st_reference.safetensors with the reference Python
`safetensors` library (no torch): a few small tensors of every dtype plus
metadata with characters that need JSON escaping. tests/unit/test_safetensors.c
reads it and checks every value exactly, so any change here must be mirrored
there.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install safetensors==0.8.0 numpy
    /tmp/venv/bin/python tests/golden/make_safetensors_golden.py

Pinned: safetensors 0.8.0, numpy 2.4.6 (the bytes do not depend on numpy).
"""
import os

import numpy as np
import safetensors
from safetensors import TensorSpec, serialize

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "st_reference.safetensors")

# name -> (dtype string understood by the Rust binding, shape, numpy array holding the raw bytes)
arrays = {
    "f32": ("float32", [2, 3], np.array([-1.5, -0.25, 0.0, 0.125, 3.75, 3.1415927], dtype="<f4")),
    "f16": ("float16", [4], np.array([1.0, -2.5, 2.0**-14, 65504.0], dtype="<f2")),
    # numpy has no bfloat16: pass the bit patterns of 1.0, -2.0, 0.5, 3.140625
    "bf16": ("bfloat16", [2, 2], np.array([0x3F80, 0xC000, 0x3F00, 0x4049], dtype="<u2")),
    "f64": ("float64", [3], np.array([0.1, -2.5e10, 1.0 / 3.0], dtype="<f8")),
    "i64": ("int64", [3], np.array([-(2**40), 7, -1], dtype="<i8")),
    "u64": ("uint64", [2], np.array([2**63 + 5, 9], dtype="<u8")),
    "i32": ("int32", [2], np.array([-123456, 2**31 - 1], dtype="<i4")),
    "u32": ("uint32", [2], np.array([4000000000, 1], dtype="<u4")),
    "i16": ("int16", [3], np.array([-32768, 32767, 0], dtype="<i2")),
    "u16": ("uint16", [2], np.array([65535, 3], dtype="<u2")),
    "i8": ("int8", [3], np.array([-128, 127, -1], dtype="i1")),
    "u8": ("uint8", [1, 4], np.array([0, 1, 200, 255], dtype="u1")),
    "bool": ("bool", [3], np.array([1, 0, 1], dtype="u1")),
    # raw bytes: 1.0, -448 (max), smallest subnormal 2^-9, NaN
    "f8_e4m3": ("float8_e4m3fn", [4], np.array([0x38, 0xFE, 0x01, 0x7F], dtype="u1")),
    # raw bytes: 1.0, -inf, 57344 (max), 2^-16 (smallest subnormal)
    "f8_e5m2": ("float8_e5m2", [4], np.array([0x3C, 0xFC, 0x7B, 0x01], dtype="u1")),
    "scalar": ("float32", [], np.array([42.0], dtype="<f4")),
    "empty": ("float32", [0, 3], np.zeros((0,), dtype="<f4")),
    'we"ird\\name\u00e9': ("float32", [1], np.array([-7.0], dtype="<f4")),
}

metadata = {
    "format": "pt",
    "note": 'line1\nline2 "q" \\ tab\t \u00e9 \U0001F600',
    "ctrl": "\x01\x1f",
    "generator": "safetensors " + safetensors.__version__,
}

specs = {
    name: TensorSpec(dtype=dt, shape=shape, data_ptr=arr.ctypes.data, data_len=arr.nbytes)
    for name, (dt, shape, arr) in arrays.items()
}
data = bytes(serialize(specs, metadata=metadata))
with open(OUT, "wb") as f:
    f.write(data)
print(f"wrote {OUT} ({len(data)} bytes)")
