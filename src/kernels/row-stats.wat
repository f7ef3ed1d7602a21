;; row-stats: the exact per-element passes of the sketch path, moved out of JavaScript loops.
;;
;; Contract (checked by the caller, row-stats.ts, not here): every pointer inside memory and aligned
;; to its element (2 bytes for bf16 input, 4 for float32, 8 for float64).
;;
;; bf16: decoding is exact (a bf16 is the top half of a float32), so vector width changes nothing.
;; row_norms, column_squares: each sum is the same sequence of float64 operations as the
;; JavaScript loops they replace (x promoted to float64, x·x exact there, added in row or column
;; order), so the results are bit-identical; the speed comes from running independent sums side by
;; side (four rows at once; two columns per f64x2 lane pair, four rows per load and store of acc).
(module
  (memory (export "memory") 1)

  ;; dst[i] = f32 bits (src[i] << 16) for i < n: src n uint16, dst n float32.
  (func (export "bf16")
    (param $src i32) (param $n i32) (param $dst i32)
    (local $i i32) (local $v v128) (local $o i32)
    (block $done (loop $eight
      (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
      (local.set $v (v128.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))
      (local.set $o (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))))
      (v128.store (local.get $o) (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $v)) (i32.const 16)))
      (v128.store offset=16 (local.get $o)
        (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $v)) (i32.const 16)))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $eight)))
    (block $tailDone (loop $tail
      (br_if $tailDone (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (i32.shl (i32.load16_u (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1))))
          (i32.const 16)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tail))))

  ;; dst[i] = f32(sqrt(Σ_c f64(x[i][c])²)), summed from c = 0 up: x n×d float32 row-major, dst n float32.
  (func (export "row_norms")
    (param $src i32) (param $n i32) (param $d i32) (param $dst i32)
    (local $i i32) (local $c i32) (local $rowBytes i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $s0 f64) (local $s1 f64) (local $s2 f64) (local $s3 f64) (local $x f64)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (block $fourDone (loop $four
      (br_if $fourDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
      (local.set $p0 (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rowBytes))))
      (local.set $p1 (i32.add (local.get $p0) (local.get $rowBytes)))
      (local.set $p2 (i32.add (local.get $p1) (local.get $rowBytes)))
      (local.set $p3 (i32.add (local.get $p2) (local.get $rowBytes)))
      (local.set $s0 (f64.const 0))
      (local.set $s1 (f64.const 0))
      (local.set $s2 (f64.const 0))
      (local.set $s3 (f64.const 0))
      (local.set $c (i32.const 0))
      (block $colsDone (loop $cols
        (br_if $colsDone (i32.ge_u (local.get $c) (local.get $rowBytes)))
        (local.set $x (f64.promote_f32 (f32.load (i32.add (local.get $p0) (local.get $c)))))
        (local.set $s0 (f64.add (local.get $s0) (f64.mul (local.get $x) (local.get $x))))
        (local.set $x (f64.promote_f32 (f32.load (i32.add (local.get $p1) (local.get $c)))))
        (local.set $s1 (f64.add (local.get $s1) (f64.mul (local.get $x) (local.get $x))))
        (local.set $x (f64.promote_f32 (f32.load (i32.add (local.get $p2) (local.get $c)))))
        (local.set $s2 (f64.add (local.get $s2) (f64.mul (local.get $x) (local.get $x))))
        (local.set $x (f64.promote_f32 (f32.load (i32.add (local.get $p3) (local.get $c)))))
        (local.set $s3 (f64.add (local.get $s3) (f64.mul (local.get $x) (local.get $x))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $cols)))
      (f32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (f32.demote_f64 (f64.sqrt (local.get $s0))))
      (f32.store offset=4 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (f32.demote_f64 (f64.sqrt (local.get $s1))))
      (f32.store offset=8 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (f32.demote_f64 (f64.sqrt (local.get $s2))))
      (f32.store offset=12 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (f32.demote_f64 (f64.sqrt (local.get $s3))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $four)))
    (block $restDone (loop $rest
      (br_if $restDone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $p0 (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rowBytes))))
      (local.set $s0 (f64.const 0))
      (local.set $c (i32.const 0))
      (block $colsDone1 (loop $cols1
        (br_if $colsDone1 (i32.ge_u (local.get $c) (local.get $rowBytes)))
        (local.set $x (f64.promote_f32 (f32.load (i32.add (local.get $p0) (local.get $c)))))
        (local.set $s0 (f64.add (local.get $s0) (f64.mul (local.get $x) (local.get $x))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $cols1)))
      (f32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (f32.demote_f64 (f64.sqrt (local.get $s0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rest))))

  ;; acc[c] += f64(x[i][c])² for rows i = 0, 1, … in order: x n×d float32, acc d float64.
  (func (export "column_squares")
    (param $src i32) (param $n i32) (param $d i32) (param $acc i32)
    (local $i i32) (local $c i32) (local $r i32) (local $rows i32) (local $rowBytes i32)
    (local $p i32) (local $a i32) (local $v v128) (local $x v128) (local $s f64) (local $y f64)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (block $rowsDone (loop $rowGroups
      (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $n)))
      ;; Up to four rows per pass over acc: each column still adds its rows in order.
      (local.set $rows (i32.sub (local.get $n) (local.get $i)))
      (if (i32.gt_u (local.get $rows) (i32.const 4)) (then (local.set $rows (i32.const 4))))
      (local.set $c (i32.const 0))
      (block $pairsDone (loop $pairs
        (br_if $pairsDone (i32.gt_u (i32.add (local.get $c) (i32.const 2)) (local.get $d)))
        (local.set $a (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 3))))
        (local.set $v (v128.load (local.get $a)))
        (local.set $p (i32.add (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rowBytes)))
          (i32.shl (local.get $c) (i32.const 2))))
        (local.set $r (i32.const 0))
        (block $inDone (loop $in
          (br_if $inDone (i32.ge_u (local.get $r) (local.get $rows)))
          (local.set $x (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $v (f64x2.add (local.get $v) (f64x2.mul (local.get $x) (local.get $x))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $in)))
        (v128.store (local.get $a) (local.get $v))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $pairs)))
      ;; An odd last column.
      (if (i32.lt_u (local.get $c) (local.get $d)) (then
        (local.set $a (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 3))))
        (local.set $s (f64.load (local.get $a)))
        (local.set $p (i32.add (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rowBytes)))
          (i32.shl (local.get $c) (i32.const 2))))
        (local.set $r (i32.const 0))
        (block $in1Done (loop $in1
          (br_if $in1Done (i32.ge_u (local.get $r) (local.get $rows)))
          (local.set $y (f64.promote_f32 (f32.load (local.get $p))))
          (local.set $s (f64.add (local.get $s) (f64.mul (local.get $y) (local.get $y))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $in1)))
        (f64.store (local.get $a) (local.get $s))))
      (local.set $i (i32.add (local.get $i) (local.get $rows)))
      (br $rowGroups))))
  ;; round half up of x·s, + 128, as two i32 lanes (0 for NaN); see quantize_u8.
  (func $codes2 (param $x v128) (param $s v128) (result v128)
    (local $v v128) (local $f v128)
    (local.set $v (f64x2.mul (local.get $x) (local.get $s)))
    (local.set $f (f64x2.floor (local.get $v)))
    (i32x4.trunc_sat_f64x2_s_zero
      (f64x2.add
        (f64x2.add (local.get $f)
          (v128.and
            (f64x2.ge (f64x2.sub (local.get $v) (local.get $f)) (v128.const f64x2 0.5 0.5))
            (v128.const f64x2 1 1)))
        (v128.const f64x2 128 128))))

;; dst[i][c] = byte(round(x[i][from + c] · s_i) + 128), s_i = 127 / max_c |x[i][from + c]| (0 when that
;; max is not > 0), for c < width: x n×k float32, dst n×width bytes. The JavaScript it replaces
;; (Math.round, a Uint8Array store) in float64 operations: round half up is floor(v) + (v − floor(v)
;; ≥ 0.5). |v| ≤ 127 here, and v − floor(v) is exact (Sterbenz's lemma for v ≥ 1 and v ≤ −0.5, no
;; rounding for v in [0, 1)) or, for v in (−0.5, 0), rounds to no less than 0.5, as the exact value
;; is above it. A NaN v (an infinite or NaN x) stores 0, as ToUint8(NaN) does (trunc_sat(NaN) = 0).
  (func (export "quantize_u8")
    (param $src i32) (param $n i32) (param $k i32) (param $from i32) (param $width i32) (param $dst i32)
    (local $i i32) (local $c i32) (local $p i32) (local $o i32) (local $end i32)
    (local $m f64) (local $s f64) (local $v f64) (local $f f64) (local $m32 f32) (local $vm v128)
    (local $vs v128) (local $x4 v128) (local $lo v128) (local $hi v128)
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $p (i32.add (local.get $src)
        (i32.shl (i32.add (i32.mul (local.get $i) (local.get $k)) (local.get $from)) (i32.const 2))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $width) (i32.const 2))))
      ;; max |x| four lanes at a time: a maximum is exact in any order, |x| has no −0, and a NaN
      ;; propagates through f32x4.max and f32.max as through Math.max; promoting keeps the order.
      (local.set $vm (v128.const i32x4 0 0 0 0))
      (local.set $c (local.get $p))
      (block $max4Done (loop $max4
        (br_if $max4Done (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $end)))
        (local.set $vm (f32x4.max (local.get $vm) (f32x4.abs (v128.load (local.get $c)))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $max4)))
      (local.set $m32 (f32.max
        (f32.max (f32x4.extract_lane 0 (local.get $vm)) (f32x4.extract_lane 1 (local.get $vm)))
        (f32.max (f32x4.extract_lane 2 (local.get $vm)) (f32x4.extract_lane 3 (local.get $vm)))))
      (block $maxDone (loop $max
        (br_if $maxDone (i32.ge_u (local.get $c) (local.get $end)))
        (local.set $m32 (f32.max (local.get $m32) (f32.abs (f32.load (local.get $c)))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $max)))
      (local.set $m (f64.promote_f32 (local.get $m32)))
      (local.set $s (if (result f64) (f64.gt (local.get $m) (f64.const 0))
        (then (f64.div (f64.const 127) (local.get $m))) (else (f64.const 0))))
      (local.set $o (i32.add (local.get $dst) (i32.mul (local.get $i) (local.get $width))))
      ;; Four values per step in two f64x2 halves: v·s, floor, +1 where v − floor ≥ 0.5 (the mask
      ;; and 1.0), +128, then trunc_sat (exact on these integers, and NaN → 0); bytes 0 and 4 of
      ;; each half's i32 lanes are the four codes.
      (local.set $vs (f64x2.splat (local.get $s)))
      (local.set $c (local.get $p))
      (block $put4Done (loop $put4
        (br_if $put4Done (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $end)))
        (local.set $x4 (v128.load (local.get $c)))
        (local.set $lo (call $codes2 (f64x2.promote_low_f32x4 (local.get $x4)) (local.get $vs)))
        (local.set $hi (call $codes2
          (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x4) (local.get $x4)))
          (local.get $vs)))
        (i32.store (local.get $o) (i32x4.extract_lane 0
          (i8x16.shuffle 0 4 16 20 0 0 0 0 0 0 0 0 0 0 0 0 (local.get $lo) (local.get $hi))))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $put4)))
      (block $putDone (loop $put
        (br_if $putDone (i32.ge_u (local.get $c) (local.get $end)))
        (local.set $v (f64.mul (f64.promote_f32 (f32.load (local.get $c))) (local.get $s)))
        (local.set $f (f64.floor (local.get $v)))
        (i32.store8 (local.get $o)
          (i32.trunc_sat_f64_s (f64.add
            (f64.add (local.get $f)
              (f64.convert_i32_u (f64.ge (f64.sub (local.get $v) (local.get $f)) (f64.const 0.5))))
            (f64.const 128))))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $put)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rows))))
)
