import v8 from "node:v8";
import vm from "node:vm";

let collector: (() => void) | null | undefined;

/**
 * A full garbage collection of the calling thread's heap, now; nothing where the runtime offers none.
 *
 * Called once between a fingerprint's set-up and its scan. Parsing a tokenizer.json (Llama 3's is
 * 9 MB, 280k merges) leaves ≈ 100 MB of dead objects on the main heap; V8 collects them only once it
 * notices that the heap has gone quiet (its memory reducer, ≈ 10 s later) — just when the scan has
 * allocated its chunk buffers and the workers their blocks, so both counted in the peak RSS (remote
 * 1B fingerprint: 480 MB before this collection was added, 456 MB after; it takes ≈ 0.1–0.3 s). The
 * collector is V8's own `gc`, which Node exposes to a new context once the flag is set (as Jest does
 * for its heap checks); the flag changes nothing else.
 */
export function collectGarbage(): void {
  gcFunction()?.();
}

function gcFunction(): (() => void) | null {
  if (collector === undefined) {
    const own = (globalThis as { gc?: unknown }).gc;
    if (typeof own === "function") collector = own as () => void;
    else {
      try {
        v8.setFlagsFromString("--expose-gc");
        const gc: unknown = vm.runInNewContext("gc");
        collector = typeof gc === "function" ? (gc as () => void) : null;
      } catch {
        collector = null; // a runtime without V8 flags: the collection just happens later
      }
    }
  }
  return collector;
}

/** Off-heap bytes of this thread's heap after its last collection (the least seen since). */
let settled = Number.POSITIVE_INFINITY;

/**
 * A full collection of the calling thread's heap when its off-heap memory (ArrayBuffers) has grown
 * by more than `bytes` since the last collection; cheap to call often (reads one V8 counter).
 *
 * V8 starts a collection for ArrayBuffers only once ≈ 64 MB of them have been allocated since the
 * last one, and a sketch worker allocates little else, so up to that much dead row data stood in
 * each worker's resident memory between collections, on top of what it holds (measured: 40–110 MB
 * of ArrayBuffers per worker in a whole 70B run). A worker's heap is a few MB: a collection takes a
 * few ms. The counter lags the collection (buffers are freed by a concurrent sweeper), which only
 * delays the next one. Returns whether it collected.
 */
export function collectGarbageAbove(bytes: number): boolean {
  const external = v8.getHeapStatistics().external_memory;
  if (external < settled) settled = external;
  if (external - settled <= bytes) return false;
  const gc = gcFunction();
  if (!gc) return false;
  gc();
  settled = v8.getHeapStatistics().external_memory;
  return true;
}
