"""Reference for bench/compare.ts: Zhu et al. (ICML 2025) weight-based independence test.

Per layer: cosine similarity of up_proj rows, scipy.optimize.linear_sum_assignment, Spearman correlation
between neuron index and matched index, Fisher combination. Its statistic is blind to permuted neurons
(the benchmark's child is permuted); only its time is the yardstick.

  python3 bench/compare_reference.py PARENT_DIR CHILD_DIR [--layer-rows FILE_A FILE_B N K]
"""
import json, struct, sys, time
import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import spearmanr, chi2


def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return header, 8 + n


def read(path, header, base, name):
    meta = header[name]
    s, e = meta["data_offsets"]
    raw = np.fromfile(path, dtype=np.uint16, count=(e - s) // 2, offset=base + s)
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(meta["shape"])


def zhu(parent, child):
    pa, pb = parent + "/model.safetensors", child + "/model.safetensors"
    ha, ba = tensors(pa)
    hb, bb = tensors(pb)
    names = sorted(k for k in ha if k.endswith("mlp.up_proj.weight") and k in hb)
    t0 = time.perf_counter()
    stat = 0.0
    for name in names:
        a = read(pa, ha, ba, name)
        b = read(pb, hb, bb, name)
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        cost = -(b @ a.T)
        _, cols = linear_sum_assignment(cost)
        rho, p = spearmanr(np.arange(len(cols)), cols)
        stat += -2 * np.log(max(p, 1e-300))
    p = chi2.sf(stat, 2 * len(names))
    return {"seconds": time.perf_counter() - t0, "layers": len(names), "fisherP": float(p)}


def layer(file_a, file_b, n, k):
    a = np.fromfile(file_a, dtype=np.float32).reshape(n, k)
    b = np.fromfile(file_b, dtype=np.float32).reshape(n, k)
    t0 = time.perf_counter()
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    _, cols = linear_sum_assignment(-(b @ a.T))
    return {"seconds": time.perf_counter() - t0, "bToA": cols.tolist()}


if __name__ == "__main__":
    if sys.argv[1] == "--layer":
        print(json.dumps(layer(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
    else:
        print(json.dumps(zhu(sys.argv[1], sys.argv[2])))
