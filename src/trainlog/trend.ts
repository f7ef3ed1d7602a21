/**
 * The local trend of a trailing window, for the spike detector. Hand-written streaming kernel: the
 * window lives in a ring of typed arrays and medians use quickselect on a scratch buffer, so each
 * point costs O(window) with no allocation (sorting per point made 10⁷-line logs CPU-bound).
 */
export class TrendWindow {
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private readonly scratch: Float64Array;
  private readonly scratch2: Float64Array;
  private head = 0;
  /** Points in the ring (≤ capacity). */
  size = 0;

  constructor(readonly capacity: number) {
    this.xs = new Float64Array(capacity);
    this.ys = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
    this.scratch2 = new Float64Array(capacity);
  }

  push(x: number, y: number): void {
    this.xs[this.head] = x;
    this.ys[this.head] = y;
    this.head = (this.head + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  reset(): void {
    this.size = 0;
    this.head = 0;
  }

  /**
   * The trend at `at`: the larger of a least-squares line through the window (tracks a rise, e.g. a
   * learning-rate re-warm) and the window's median (does not over-extrapolate a descent that is
   * flattening, which a line would turn into a false spike). Taking the larger is conservative both
   * ways. σ is the robust spread (1.4826·MAD) of the window's residuals around the line.
   */
  fit(at: number): { pred: number; sigma: number } {
    const n = this.size;
    const { xs, ys, scratch, scratch2 } = this;
    // x is centred on one of the window's points so the raw moments stay exact at large steps.
    // k < n = this.size ≤ the window's length: the `?? NaN` fallbacks below never apply.
    const x0 = xs[0] ?? Number.NaN;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let sxy = 0;
    for (let k = 0; k < n; k++) {
      const x = (xs[k] ?? Number.NaN) - x0;
      const y = ys[k] ?? Number.NaN;
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    const mx = sx / n;
    const my = sy / n;
    const vxx = sxx - n * mx * mx;
    const slope = vxx > 0 ? (sxy - n * mx * my) / vxx : 0;
    for (let k = 0; k < n; k++) {
      const y = ys[k] ?? Number.NaN;
      scratch[k] = Math.abs(y - (my + slope * ((xs[k] ?? Number.NaN) - x0 - mx)));
      scratch2[k] = y;
    }
    const sigma = Math.max(1.4826 * medianInPlace(scratch, n), 1e-6 * Math.abs(my), 1e-12);
    const centre = medianInPlace(scratch2, n);
    return { pred: Math.max(my + slope * (at - x0 - mx), centre), sigma };
  }
}

/**
 * Median of a[0..n) (mean of the two middle values for even n); reorders a. Here and in select()
 * every index lies in [0, n) ⊆ [0, a.length): the `?? NaN` fallbacks never apply.
 */
export function medianInPlace(a: Float64Array, n: number): number {
  const k = n >> 1;
  select(a, 0, n - 1, k);
  const upper = a[k] ?? Number.NaN;
  if (n % 2) return upper;
  let lower = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < k; i++) {
    const v = a[i] ?? Number.NaN;
    if (v > lower) lower = v;
  }
  return (lower + upper) / 2;
}

/** Quickselect (Hoare partition, middle pivot): afterwards a[k] is the k-th smallest, a[<k] ≤ a[k]. */
function select(a: Float64Array, lo: number, hi: number, k: number): void {
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1] ?? Number.NaN;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] ?? Number.NaN) < pivot) i++;
      while ((a[j] ?? Number.NaN) > pivot) j--;
      if (i <= j) {
        const t = a[i] ?? Number.NaN;
        a[i] = a[j] ?? Number.NaN;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}
