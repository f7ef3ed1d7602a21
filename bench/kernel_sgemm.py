"""OpenBLAS sgemm through NumPy for bench/kernel.ts: X (n x k) @ Y.T (k x m), float32, best of 5.
Run with OPENBLAS_NUM_THREADS=1 for one core. Prints {"gflops": ..., "gflopsCpu": ...}: best wall
time and best CPU time (robust to other processes sharing the core)."""
import json
import sys
import time

import numpy as np

n, k, m = (int(a) for a in sys.argv[1:4])
x = np.sin(np.arange(n * k, dtype=np.float32)).reshape(n, k)
y = np.cos(np.arange(m * k, dtype=np.float32)).reshape(m, k)
best = float("inf")
best_cpu = float("inf")
for _ in range(5):
    t0 = time.perf_counter()
    c0 = time.process_time()
    x @ y.T
    best_cpu = min(best_cpu, time.process_time() - c0)
    best = min(best, time.perf_counter() - t0)
flops = 2 * n * m * k
print(json.dumps({"gflops": flops / best / 1e9, "gflopsCpu": flops / best_cpu / 1e9}))
