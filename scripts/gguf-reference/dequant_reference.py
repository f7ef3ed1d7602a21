#!/usr/bin/env python3
"""Independent reference dequantiser for ggml block types (numpy, float32 arithmetic).

Written from the block layouts in ggml-common.h / gguf-py, separately from the TypeScript decoders
(vectorised numpy instead of per-element loops), to produce the expected values the tests compare
against. Run once; its output is committed as test/formats/gguf/fixtures/dequant-reference.json:

    python3 scripts/gguf-reference/dequant_reference.py > test/formats/gguf/fixtures/dequant-reference.json

`bench TYPE FILE OFFSET NBYTES` times the numpy decoder on bytes of a file (used by bench-dequant.ts).

Input blocks are random bytes from a seeded generator, with the f16 scale fields drawn from a sane
range (plus one all-random case per type, which may hold Inf/NaN scales). Values are stored as the
hex of little-endian float32 so NaN and -0 survive JSON.
"""
import json
import sys

import numpy as np

F32 = np.float32
QK_K = 256
SIZES = {  # type: (block elements, block bytes)
    "F32": (1, 4), "F16": (1, 2), "BF16": (1, 2),
    "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24), "Q8_0": (32, 34),
    "Q2_K": (256, 84), "Q3_K": (256, 110), "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210),
}
# Byte offsets of the f16 scale fields inside each block (set to sane values for the normal cases).
HALF_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
}


def half(b, off):
    return b[:, off:off + 2].copy().view("<f2").astype(F32)[:, 0]


def nibbles(qs):
    return (qs & 0xF).astype(F32), (qs >> 4).astype(F32)


def dq_legacy(name, b):
    if name == "Q8_0":
        return half(b, 0)[:, None] * b[:, 2:34].view(np.int8).astype(F32)
    has_min = name in ("Q4_1", "Q5_1")
    d = half(b, 0)[:, None]
    pos = 4 if has_min else 2
    hi = np.zeros((b.shape[0], 32), dtype=np.uint8)
    if name.startswith("Q5"):
        qh = b[:, pos:pos + 4].copy().view("<u4")[:, 0]
        hi = (((qh[:, None] >> np.arange(32, dtype=np.uint32)) & 1) << 4).astype(np.uint8)
        pos += 4
    lo, up = nibbles(b[:, pos:pos + 16])
    q = np.concatenate([lo, up], axis=1) + hi.astype(F32)
    if has_min:
        return (d * q) + half(b, 2)[:, None]
    offset = F32(8 if name == "Q4_0" else 16)
    return d * (q - offset)


def dq_q2k(b):
    d, dmin = half(b, 80)[:, None], half(b, 82)[:, None]
    sc = b[:, 0:16]
    qs = b[:, 16:80]
    out = []
    for i in range(16):  # sub-block i: half i//8, shift 2*((i%8)//2), bytes 16*(i%2)
        h, shift, part = i // 8, 2 * ((i % 8) // 2), i % 2
        q = ((qs[:, h * 32 + part * 16: h * 32 + part * 16 + 16] >> shift) & 3).astype(F32)
        dl = d * (sc[:, i:i + 1] & 0xF).astype(F32)
        ml = dmin * (sc[:, i:i + 1] >> 4).astype(F32)
        out.append(dl * q - ml)
    return np.concatenate(out, axis=1)


def q3k_scales(s):
    low = np.concatenate([s[:, 0:8] & 0xF, s[:, 0:8] >> 4], axis=1)
    high = np.stack([(s[:, 8 + (i % 4)] >> (2 * (i // 4))) & 3 for i in range(16)], axis=1)
    return (low | (high << 4)).astype(np.int16) - 32


def dq_q3k(b):
    d = half(b, 108)[:, None]
    hm, qs, sc = b[:, 0:32], b[:, 32:96], q3k_scales(b[:, 96:108])
    out = []
    for i in range(16):
        h, j, part = i // 8, (i % 8) // 2, i % 2
        q = (qs[:, h * 32 + part * 16: h * 32 + part * 16 + 16] >> (2 * j)) & 3
        bit = (hm[:, part * 16: part * 16 + 16] >> (4 * h + j)) & 1
        val = q.astype(np.int16) - np.where(bit == 1, 0, 4)
        out.append((d * sc[:, i:i + 1].astype(F32)) * val.astype(F32))
    return np.concatenate(out, axis=1)


def k4_scale_min(s):
    sc = np.zeros((s.shape[0], 8), dtype=np.uint8)
    mn = np.zeros((s.shape[0], 8), dtype=np.uint8)
    sc[:, 0:4], mn[:, 0:4] = s[:, 0:4] & 63, s[:, 4:8] & 63
    sc[:, 4:8] = (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)
    mn[:, 4:8] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc.astype(F32), mn.astype(F32)


def dq_q45k(b, five):
    d, dmin = half(b, 0)[:, None], half(b, 2)[:, None]
    sc, mn = k4_scale_min(b[:, 4:16])
    qh = b[:, 16:48] if five else None
    qs = b[:, 48:176] if five else b[:, 16:144]
    out = []
    for i in range(8):
        chunk = qs[:, (i // 2) * 32: (i // 2) * 32 + 32]
        q = (chunk >> 4) if i % 2 else (chunk & 0xF)
        q = q.astype(F32)
        if five:
            q = q + (((qh >> i) & 1) * 16).astype(F32)
        out.append((d * sc[:, i:i + 1]) * q - dmin * mn[:, i:i + 1])
    return np.concatenate(out, axis=1)


def dq_q6k(b):
    d = half(b, 208)[:, None]
    ql, qh, sc = b[:, 0:128], b[:, 128:192], b[:, 192:208].view(np.int8).astype(F32)
    y = np.zeros((b.shape[0], 256), dtype=F32)
    for h in range(2):
        L, H = ql[:, h * 64:(h + 1) * 64], qh[:, h * 32:(h + 1) * 32]
        quads = [
            (L[:, 0:32] & 0xF) | ((H & 3) << 4),
            (L[:, 32:64] & 0xF) | (((H >> 2) & 3) << 4),
            (L[:, 0:32] >> 4) | (((H >> 4) & 3) << 4),
            (L[:, 32:64] >> 4) | (((H >> 6) & 3) << 4),
        ]
        for k, q in enumerate(quads):
            for g in range(2):  # 16-element groups share a scale
                s = sc[:, h * 8 + 2 * k + g: h * 8 + 2 * k + g + 1]
                vals = (q[:, g * 16:(g + 1) * 16].astype(np.int16) - 32).astype(F32)
                y[:, h * 128 + 32 * k + 16 * g: h * 128 + 32 * k + 16 * (g + 1)] = (d * s) * vals
    return y


def dequant(name, raw):
    be, bb = SIZES[name]
    b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, bb)
    if name == "F32":
        return b.copy().view("<f4").reshape(-1)
    if name == "F16":
        return b.copy().view("<f2").astype(F32).reshape(-1)
    if name == "BF16":
        return (b.copy().view("<u2").astype(np.uint32) << 16).view(F32).reshape(-1)
    if name in ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"):
        return dq_legacy(name, b).astype(F32).reshape(-1)
    fn = {"Q2_K": dq_q2k, "Q3_K": dq_q3k, "Q6_K": dq_q6k,
          "Q4_K": lambda x: dq_q45k(x, False), "Q5_K": lambda x: dq_q45k(x, True)}[name]
    return fn(b).astype(F32).reshape(-1)


def make_blocks(rng, name, n, sane):
    _, bb = SIZES[name]
    raw = rng.integers(0, 256, size=(n, bb), dtype=np.uint8)
    if name in ("F16", "BF16", "F32") and sane:
        vals = rng.normal(0, 2, size=n).astype(F32)
        raw = vals.astype({"F16": "<f2", "BF16": "<f4", "F32": "<f4"}[name]).view(np.uint8).reshape(n, -1)
        if name == "BF16":
            raw = raw[:, 2:4].copy()
    elif sane:
        for off in HALF_FIELDS[name]:
            scales = rng.uniform(-0.05, 0.05, size=n).astype("<f2")
            raw[:, off:off + 2] = scales.view(np.uint8).reshape(n, 2)
    return raw.tobytes()


def main():
    rng = np.random.default_rng(20261129)
    cases = []
    for name, (be, _) in SIZES.items():
        count = 64 if be == 1 else (4 if be == 32 else 2)
        for sane in (True, False):
            raw = make_blocks(rng, name, count, sane)
            out = dequant(name, raw)
            cases.append({"type": name, "sane": sane, "input": raw.hex(), "expected": out.astype("<f4").tobytes().hex()})
    json.dump({"generator": "scripts/gguf-reference/dequant_reference.py", "numpy": np.__version__, "cases": cases},
              sys.stdout, indent=1)
    sys.stdout.write("\n")


def bench(name, path, offset, nbytes):
    """Seconds to dequantise `nbytes` of `name` blocks at `offset` of `path` (best of 3)."""
    import time
    with open(path, "rb") as f:
        f.seek(offset)
        raw = f.read(nbytes)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        dequant(name, raw)
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"type": name, "seconds": best}))


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "bench":
        bench(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
