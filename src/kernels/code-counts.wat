;; code-counts: exact pattern histograms of 16- and 8-bit codes, the hot loop of BF16/F16/FP8 scans.
;;
;; Written by hand (see code-counts.ts for the calling contract and why): each code is counted
;; into one of four tables by its position modulo 4, so runs of equal codes — and the frequent
;; codes of a bell-shaped weight distribution — spread their increments over four counters instead
;; of waiting on one store-to-load round trip. Measured on the 2-core bench machine (CPU time,
;; bench/code-counts.ts, BF16 codes of normal(0, 0.02) values): ≈ 0.50 ns per code copied in, ≈ 0.59
;; in place, against ≈ 1.05 for the JavaScript loop it replaces (two tables, one 32-bit load per two
;; codes); the earlier form (one 64-bit load split into four codes) took ≈ 0.59 / 0.73.
;;
;; Memory is imported and shared: a scan's worker pool puts its chunk buffers and every worker's
;; tables in one shared memory, so a worker counts a chunk where it was read, without copying it in
;; (code-counts.ts). Tables: four of 65,536 u32 counts at $t, $t + 256 KiB, … (8-bit codes use the
;; first 256 bins of each), 1 MiB in all at a 16-byte aligned $t. Counts wrap at 2^32: the caller
;; drains before any bin could pass 2^32 − 1.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Counts the 16-bit little-endian codes in [p, p + n) into the tables at $t: n a multiple of 16.
  ;; Eight codes a step, each read with its own 16-bit load (a load and an address computation
  ;; per code, where splitting a 64-bit load took a shift, a mask and the address): ≈ 20 % faster.
  (func (export "count16") (param $p i32) (param $n i32) (param $t i32)
    (local $end i32) (local $a i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load16_u offset=0 (local.get $p)) (i32.const 2))))
      (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load16_u offset=2 (local.get $p)) (i32.const 2))))
      (i32.store offset=262144 (local.get $a) (i32.add (i32.load offset=262144 (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load16_u offset=4 (local.get $p)) (i32.const 2))))
      (i32.store offset=524288 (local.get $a) (i32.add (i32.load offset=524288 (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load16_u offset=6 (local.get $p)) (i32.const 2))))
      (i32.store offset=786432 (local.get $a) (i32.add (i32.load offset=786432 (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load16_u offset=8 (local.get $p)) (i32.const 2))))
      (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load16_u offset=10 (local.get $p)) (i32.const 2))))
      (i32.store offset=262144 (local.get $a) (i32.add (i32.load offset=262144 (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load16_u offset=12 (local.get $p)) (i32.const 2))))
      (i32.store offset=524288 (local.get $a) (i32.add (i32.load offset=524288 (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load16_u offset=14 (local.get $p)) (i32.const 2))))
      (i32.store offset=786432 (local.get $a) (i32.add (i32.load offset=786432 (local.get $a)) (i32.const 1)))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $next))))

  ;; Counts the bytes in [p, p + n) into the tables at $t: n a multiple of 8.
  (func (export "count8") (param $p i32) (param $n i32) (param $t i32)
    (local $end i32) (local $a i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load8_u offset=0 (local.get $p)) (i32.const 2))))
      (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 2))))
      (i32.store offset=262144 (local.get $a) (i32.add (i32.load offset=262144 (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 2))))
      (i32.store offset=524288 (local.get $a) (i32.add (i32.load offset=524288 (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load8_u offset=3 (local.get $p)) (i32.const 2))))
      (i32.store offset=786432 (local.get $a) (i32.add (i32.load offset=786432 (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load8_u offset=4 (local.get $p)) (i32.const 2))))
      (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load8_u offset=5 (local.get $p)) (i32.const 2))))
      (i32.store offset=262144 (local.get $a) (i32.add (i32.load offset=262144 (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load8_u offset=6 (local.get $p)) (i32.const 2))))
      (i32.store offset=524288 (local.get $a) (i32.add (i32.load offset=524288 (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $t) (i32.shl (i32.load8_u offset=7 (local.get $p)) (i32.const 2))))
      (i32.store offset=786432 (local.get $a) (i32.add (i32.load offset=786432 (local.get $a)) (i32.const 1)))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br $next))))

  ;; dst[c] += t0[c] + t1[c] + t2[c] + t3[c] for c < bins of the tables at $t (bins a multiple of 4;
  ;; dst 16-byte aligned, outside the tables), then zeroes those bins of the four tables.
  (func (export "drain") (param $t i32) (param $dst i32) (param $bins i32)
    (local $o i32) (local $end i32) (local $zero v128)
    (local.set $o (local.get $t))
    (local.set $dst (i32.sub (local.get $dst) (local.get $t)))
    (local.set $end (i32.add (local.get $t) (i32.shl (local.get $bins) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $o) (local.get $end)))
      (v128.store (i32.add (local.get $dst) (local.get $o))
        (i32x4.add
          (i32x4.add
            (v128.load (i32.add (local.get $dst) (local.get $o)))
            (i32x4.add (v128.load (local.get $o)) (v128.load offset=262144 (local.get $o))))
          (i32x4.add (v128.load offset=524288 (local.get $o)) (v128.load offset=786432 (local.get $o)))))
      (v128.store (local.get $o) (local.get $zero))
      (v128.store offset=262144 (local.get $o) (local.get $zero))
      (v128.store offset=524288 (local.get $o) (local.get $zero))
      (v128.store offset=786432 (local.get $o) (local.get $zero))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br $next))))

  ;; Writes (code, count) u32 pairs of the non-zero bins of the u32 counts at [src, src + 4·bins)
  ;; to dst, in code order (bins a multiple of 4, src 16-byte aligned); returns how many pairs.
  (func (export "pairs") (param $src i32) (param $bins i32) (param $dst i32) (result i32)
    (local $c i32) (local $k i32) (local $used i32) (local $j i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $bins)))
      (if (v128.any_true (v128.load (i32.add (local.get $src) (i32.shl (local.get $c) (i32.const 2)))))
        (then
          (local.set $j (i32.const 0))
          (block $four (loop $each
            (br_if $four (i32.ge_u (local.get $j) (i32.const 4)))
            (local.set $k (i32.load
              (i32.add (local.get $src) (i32.shl (i32.add (local.get $c) (local.get $j)) (i32.const 2)))))
            (if (local.get $k)
              (then
                (i32.store (local.get $dst) (i32.add (local.get $c) (local.get $j)))
                (i32.store offset=4 (local.get $dst) (local.get $k))
                (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
                (local.set $used (i32.add (local.get $used) (i32.const 1)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $each)))))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $next)))
    (local.get $used))
)
