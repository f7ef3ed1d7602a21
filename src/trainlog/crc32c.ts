/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord framing uses it. Hand-written:
 * node:zlib only offers CRC-32 (IEEE), and a 20-line table-driven loop beats adding a native package.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  // i < bytes.length and the table has all 256 entries: the fallbacks never apply.
  for (let i = 0; i < bytes.length; i++) c = (TABLE[(c ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's "masked" CRC: rotate right by 15 and add a constant, so CRCs of CRCs stay distinct. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}
