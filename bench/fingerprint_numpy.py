"""NumPy reference for `npm run bench:fingerprint` (DESIGN §6): the same scan as Pedigree's, in one
pass over a memory-mapped safetensors file: per tensor hashlib.sha256 of the stored bytes, BF16 ->
float32 statistics in chunks (count, float64 mean/std/rms, min, max, NaN/Inf counts, quantiles from
a 65536-bin pattern histogram), and an RFC 6962 Merkle root over the tensors sorted by name.
Prints one JSON line: {"seconds", "bytes", "tensors", "contentId"}.
"""
import hashlib
import json
import mmap
import struct
import sys
import time

import numpy as np

CHUNK_ELEMENTS = 4 << 20  # 8 MB of BF16 per chunk, as Pedigree's scan


def leaf_bytes(name, dtype, shape, digest):
    n = name.encode()
    d = dtype.encode()
    out = struct.pack(">I", len(n)) + n + struct.pack("B", len(d)) + d + struct.pack("B", len(shape))
    out += b"".join(struct.pack(">Q", x) for x in shape)
    return out + digest


def merkle(hashes):
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + merkle(hashes[:k]) + merkle(hashes[k:])).digest()


def scan_tensor(mm, begin, end):
    h = hashlib.sha256()
    codes = np.frombuffer(mm, dtype=np.uint16, count=(end - begin) // 2, offset=begin)
    n = s = ss = 0.0
    nan = inf = 0
    lo, hi = np.inf, -np.inf
    hist = np.zeros(65536, dtype=np.int64)
    for i in range(0, codes.size, CHUNK_ELEMENTS):
        c = codes[i : i + CHUNK_ELEMENTS]
        h.update(c)
        f = (c.astype(np.uint32) << 16).view(np.float32)
        finite = np.isfinite(f)
        if not finite.all():
            nan += int(np.isnan(f).sum())
            inf += int((~finite).sum()) - int(np.isnan(f).sum())
            f = f[finite]
        d = f.astype(np.float64)
        n += d.size
        s += d.sum()
        ss += np.dot(d, d)
        if d.size:
            lo, hi = min(lo, float(d.min())), max(hi, float(d.max()))
        hist += np.bincount(c, minlength=65536)
    mean = s / n if n else float("nan")
    std = max(ss / n - mean * mean, 0.0) ** 0.5 if n else float("nan")
    return h.digest(), {"count": codes.size, "mean": mean, "std": std, "min": lo, "max": hi, "nan": nan, "inf": inf, "hist": int(hist.sum())}


def main(path):
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        (hlen,) = struct.unpack("<Q", mm[:8])
        header = json.loads(mm[8 : 8 + hlen])
        header.pop("__metadata__", None)
        base = 8 + hlen
        leaves = []
        for name, t in header.items():
            if t["dtype"] != "BF16":
                raise SystemExit(f"reference handles BF16 only, {name} is {t['dtype']}")
            b, e = t["data_offsets"]
            digest, _stats = scan_tensor(mm, base + b, base + e)
            leaves.append((name.encode(), hashlib.sha256(b"\x00" + leaf_bytes(name, "BF16", t["shape"], digest)).digest()))
        leaves.sort()
        root = merkle([x[1] for x in leaves])
    size = base + sum(t["data_offsets"][1] - t["data_offsets"][0] for t in header.values())
    print(json.dumps({"seconds": time.perf_counter() - t0, "bytes": size, "tensors": len(leaves), "contentId": root.hex()}))


if __name__ == "__main__":
    main(sys.argv[1])
