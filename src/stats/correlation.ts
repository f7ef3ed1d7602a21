// Indices stay below min(|x|, |y|); the NaN fallbacks are unreachable and match what arithmetic on a
// missing element would give.
/** Pearson correlation of the first min(|x|, |y|) pairs; NaN when either side has no variance or n < 2. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = Math.min(x.length, y.length);
  if (n < 2) return Number.NaN;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] ?? Number.NaN;
    my += y[i] ?? Number.NaN;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] ?? Number.NaN) - mx;
    const dy = (y[i] ?? Number.NaN) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Number.NaN;
}
