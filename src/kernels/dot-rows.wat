;; dot_rows: out[i][j] = <x_i, y_j> for float32 rows, with WebAssembly SIMD (f32x4).
;;
;; Written by hand (see dot-rows.ts for why and for the calling contract): a 4×3 register block —
;; four rows of x against three rows of y, twelve f32x4 accumulators — reuses every loaded vector
;; three or four times. Measured on the 2-core bench machine: ≈ 17 GFLOP/s per core against ≈ 1 for
;; the scalar JavaScript loop; 4×2, 2×4, 3×3, 4×4 and 6×2 blocks were all slower.
;;
;; Contract (checked by the caller, not here):
;;   x: n rows, y: m rows, both `k` float32 values per row (k a multiple of 4), 16-byte aligned;
;;   n a multiple of 4, m a multiple of 3; out: n × m float32, row-major.
;; Each dot product is summed in four float32 lanes over the row, then (l0 + l1) + (l2 + l3):
;; one fixed order, so the result is the same on every machine and for any caller's blocking.
(module
  (memory (export "memory") 1)
  (func (export "dot_rows")
    (param $x i32) (param $n i32) (param $y i32) (param $m i32) (param $k i32) (param $out i32)
    (local $rowBytes i32) (local $i i32) (local $j i32) (local $c i32) (local $o i32)
    (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $y0 i32) (local $y1 i32) (local $y2 i32)
    (local $vx0 v128) (local $vx1 v128) (local $vx2 v128) (local $vx3 v128)
    (local $vy0 v128) (local $vy1 v128) (local $vy2 v128)
    (local $a00 v128) (local $a01 v128) (local $a02 v128)
    (local $a10 v128) (local $a11 v128) (local $a12 v128)
    (local $a20 v128) (local $a21 v128) (local $a22 v128)
    (local $a30 v128) (local $a31 v128) (local $a32 v128)
    (local.set $rowBytes (i32.shl (local.get $k) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $rowBytes))))
      (local.set $x1 (i32.add (local.get $x0) (local.get $rowBytes)))
      (local.set $x2 (i32.add (local.get $x1) (local.get $rowBytes)))
      (local.set $x3 (i32.add (local.get $x2) (local.get $rowBytes)))
      (local.set $j (i32.const 0))
      (block $colsDone (loop $cols
        (br_if $colsDone (i32.ge_u (local.get $j) (local.get $m)))
        (local.set $y0 (i32.add (local.get $y) (i32.mul (local.get $j) (local.get $rowBytes))))
        (local.set $y1 (i32.add (local.get $y0) (local.get $rowBytes)))
        (local.set $y2 (i32.add (local.get $y1) (local.get $rowBytes)))
        (local.set $a00 (v128.const i32x4 0 0 0 0))
        (local.set $a01 (v128.const i32x4 0 0 0 0))
        (local.set $a02 (v128.const i32x4 0 0 0 0))
        (local.set $a10 (v128.const i32x4 0 0 0 0))
        (local.set $a11 (v128.const i32x4 0 0 0 0))
        (local.set $a12 (v128.const i32x4 0 0 0 0))
        (local.set $a20 (v128.const i32x4 0 0 0 0))
        (local.set $a21 (v128.const i32x4 0 0 0 0))
        (local.set $a22 (v128.const i32x4 0 0 0 0))
        (local.set $a30 (v128.const i32x4 0 0 0 0))
        (local.set $a31 (v128.const i32x4 0 0 0 0))
        (local.set $a32 (v128.const i32x4 0 0 0 0))
        (local.set $c (i32.const 0))
        (block $dotDone (loop $dot
          (br_if $dotDone (i32.ge_u (local.get $c) (local.get $rowBytes)))
          (local.set $vx0 (v128.load (i32.add (local.get $x0) (local.get $c))))
          (local.set $vx1 (v128.load (i32.add (local.get $x1) (local.get $c))))
          (local.set $vx2 (v128.load (i32.add (local.get $x2) (local.get $c))))
          (local.set $vx3 (v128.load (i32.add (local.get $x3) (local.get $c))))
          (local.set $vy0 (v128.load (i32.add (local.get $y0) (local.get $c))))
          (local.set $vy1 (v128.load (i32.add (local.get $y1) (local.get $c))))
          (local.set $vy2 (v128.load (i32.add (local.get $y2) (local.get $c))))
          (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $vx0) (local.get $vy0))))
          (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $vx0) (local.get $vy1))))
          (local.set $a02 (f32x4.add (local.get $a02) (f32x4.mul (local.get $vx0) (local.get $vy2))))
          (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $vx1) (local.get $vy0))))
          (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $vx1) (local.get $vy1))))
          (local.set $a12 (f32x4.add (local.get $a12) (f32x4.mul (local.get $vx1) (local.get $vy2))))
          (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $vx2) (local.get $vy0))))
          (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $vx2) (local.get $vy1))))
          (local.set $a22 (f32x4.add (local.get $a22) (f32x4.mul (local.get $vx2) (local.get $vy2))))
          (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $vx3) (local.get $vy0))))
          (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $vx3) (local.get $vy1))))
          (local.set $a32 (f32x4.add (local.get $a32) (f32x4.mul (local.get $vx3) (local.get $vy2))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $dot)))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 0)) (local.get $m)) (i32.add (local.get $j) (i32.const 0))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a00)) (f32x4.extract_lane 1 (local.get $a00)))
          (f32.add (f32x4.extract_lane 2 (local.get $a00)) (f32x4.extract_lane 3 (local.get $a00)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 0)) (local.get $m)) (i32.add (local.get $j) (i32.const 1))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a01)) (f32x4.extract_lane 1 (local.get $a01)))
          (f32.add (f32x4.extract_lane 2 (local.get $a01)) (f32x4.extract_lane 3 (local.get $a01)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 0)) (local.get $m)) (i32.add (local.get $j) (i32.const 2))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a02)) (f32x4.extract_lane 1 (local.get $a02)))
          (f32.add (f32x4.extract_lane 2 (local.get $a02)) (f32x4.extract_lane 3 (local.get $a02)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 1)) (local.get $m)) (i32.add (local.get $j) (i32.const 0))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a10)) (f32x4.extract_lane 1 (local.get $a10)))
          (f32.add (f32x4.extract_lane 2 (local.get $a10)) (f32x4.extract_lane 3 (local.get $a10)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 1)) (local.get $m)) (i32.add (local.get $j) (i32.const 1))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a11)) (f32x4.extract_lane 1 (local.get $a11)))
          (f32.add (f32x4.extract_lane 2 (local.get $a11)) (f32x4.extract_lane 3 (local.get $a11)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 1)) (local.get $m)) (i32.add (local.get $j) (i32.const 2))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a12)) (f32x4.extract_lane 1 (local.get $a12)))
          (f32.add (f32x4.extract_lane 2 (local.get $a12)) (f32x4.extract_lane 3 (local.get $a12)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 2)) (local.get $m)) (i32.add (local.get $j) (i32.const 0))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a20)) (f32x4.extract_lane 1 (local.get $a20)))
          (f32.add (f32x4.extract_lane 2 (local.get $a20)) (f32x4.extract_lane 3 (local.get $a20)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 2)) (local.get $m)) (i32.add (local.get $j) (i32.const 1))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a21)) (f32x4.extract_lane 1 (local.get $a21)))
          (f32.add (f32x4.extract_lane 2 (local.get $a21)) (f32x4.extract_lane 3 (local.get $a21)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 2)) (local.get $m)) (i32.add (local.get $j) (i32.const 2))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a22)) (f32x4.extract_lane 1 (local.get $a22)))
          (f32.add (f32x4.extract_lane 2 (local.get $a22)) (f32x4.extract_lane 3 (local.get $a22)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 3)) (local.get $m)) (i32.add (local.get $j) (i32.const 0))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a30)) (f32x4.extract_lane 1 (local.get $a30)))
          (f32.add (f32x4.extract_lane 2 (local.get $a30)) (f32x4.extract_lane 3 (local.get $a30)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 3)) (local.get $m)) (i32.add (local.get $j) (i32.const 1))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a31)) (f32x4.extract_lane 1 (local.get $a31)))
          (f32.add (f32x4.extract_lane 2 (local.get $a31)) (f32x4.extract_lane 3 (local.get $a31)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 3)) (local.get $m)) (i32.add (local.get $j) (i32.const 2))) (i32.const 2))))
        (f32.store (local.get $o) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $a32)) (f32x4.extract_lane 1 (local.get $a32)))
          (f32.add (f32x4.extract_lane 2 (local.get $a32)) (f32x4.extract_lane 3 (local.get $a32)))))
        (local.set $j (i32.add (local.get $j) (i32.const 3)))
        (br $cols)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $rows)))))
