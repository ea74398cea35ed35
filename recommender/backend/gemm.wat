;; Single-precision GEMM on WebAssembly SIMD128, computing in place on the tfjs
;; wasm backend's heap (the memory is imported, every pointer is a byte offset
;; into it). Source of recommender/backend/gemmWasm.ts: after editing, run
;; `npm run build:gemm`.
;;
;;   C[b] = op(A[b]) · op(B[b])      op(A[b]): M×K, op(B[b]): K×N, C[b]: M×N row-major
;;
;; Element (i, k) of op(A[b]) lives at a + b*aBS + i*ars + k*aks, element (k, n)
;; of op(B[b]) at b + b*bBS + k*bks + n*bns, so transposes and batch
;; broadcasting (stride 0) are just strides chosen by the caller.
;;
;; Loops: batch → N block (NC columns) → K block (KC) → 4-row tile → 8-column
;; panel. Each (K, N) block of op(B) is packed into the scratch area as panels
;; of 8 columns ([panel][k][8], zero-padded past N) so the micro-kernels stream
;; it contiguously; one call does all full panels of a 4-row tile, so the tile
;; of A stays in L1 across them. op(A) is read in place: the micro-kernels keep a
;; 4×8 tile of C in 8 v128 accumulators and broadcast one element of each of
;; the tile's 4 rows per k (v128.load32_splat); $microRows follows 4 row
;; pointers along k (untransposed A), $microCols reads the 4 rows' neighbouring
;; elements at each k (transposed A). Rows past M re-read row M-1 (for
;; transposed A the edge rows are first copied to a small [kc][4] buffer);
;; tiles with fewer than 4 rows or 8 columns go through a scratch tile and only
;; the valid part is copied out. K blocks after the first accumulate into C.
;;
;; Scratch layout (caller-allocated, 16-byte aligned):
;;   [0, 128)                    edge C tile, 4 rows × 8 floats
;;   [128, 128 + KC*16)          edge A rows, [KC][4]
;;   [128 + KC*16, + KC*NC'*4)   packed B block, NC' = NC rounded up to 8
(module
  (import "env" "memory" (memory 1))

  ;; np consecutive 4×8 tiles (panels of 8 columns) of 4 rows whose A rows
  ;; are contiguous in k (untransposed A): q0..q3 point at A(i0+r, k0); pb: the
  ;; first packed panel ([kc][8] each, back to back); pc/ldc: C tile and its row
  ;; stride in bytes; acc: add to C instead of overwriting. 4 k per iteration:
  ;; one v128 load per row, whose lanes are splatted by shuffles.
  (func $microRows
    (param $q0 i32) (param $q1 i32) (param $q2 i32) (param $q3 i32)
    (param $pb i32) (param $kc i32) (param $np i32) (param $pc i32) (param $ldc i32) (param $acc i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $a v128)
    (local $va0 v128) (local $va1 v128) (local $va2 v128) (local $va3 v128)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $t i32) (local $end i32) (local $end4 i32)
    (loop $panel
      (local.set $p0 (local.get $q0))
      (local.set $p1 (local.get $q1))
      (local.set $p2 (local.get $q2))
      (local.set $p3 (local.get $q3))
      (local.set $c00 (v128.const i32x4 0 0 0 0))
      (local.set $c01 (v128.const i32x4 0 0 0 0))
      (local.set $c10 (v128.const i32x4 0 0 0 0))
      (local.set $c11 (v128.const i32x4 0 0 0 0))
      (local.set $c20 (v128.const i32x4 0 0 0 0))
      (local.set $c21 (v128.const i32x4 0 0 0 0))
      (local.set $c30 (v128.const i32x4 0 0 0 0))
      (local.set $c31 (v128.const i32x4 0 0 0 0))
      (local.set $end (i32.add (local.get $pb) (i32.shl (local.get $kc) (i32.const 5))))
      (local.set $end4 (i32.sub (local.get $end) (i32.const 96)))
      (block $done4
        (br_if $done4 (i32.ge_u (local.get $pb) (local.get $end4)))
        (loop $k4
          (local.set $va0 (v128.load (local.get $p0)))
          (local.set $va1 (v128.load (local.get $p1)))
          (local.set $va2 (v128.load (local.get $p2)))
          (local.set $va3 (v128.load (local.get $p3)))
          (local.set $b0 (v128.load (local.get $pb)))
          (local.set $b1 (v128.load offset=16 (local.get $pb)))
          (local.set $a (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $va0) (local.get $va0)))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $va1) (local.get $va1)))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $va2) (local.get $va2)))
          (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $va3) (local.get $va3)))
          (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $b0 (v128.load offset=32 (local.get $pb)))
          (local.set $b1 (v128.load offset=48 (local.get $pb)))
          (local.set $a (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $va0) (local.get $va0)))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $va1) (local.get $va1)))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $va2) (local.get $va2)))
          (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $va3) (local.get $va3)))
          (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $b0 (v128.load offset=64 (local.get $pb)))
          (local.set $b1 (v128.load offset=80 (local.get $pb)))
          (local.set $a (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $va0) (local.get $va0)))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $va1) (local.get $va1)))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $va2) (local.get $va2)))
          (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $va3) (local.get $va3)))
          (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $b0 (v128.load offset=96 (local.get $pb)))
          (local.set $b1 (v128.load offset=112 (local.get $pb)))
          (local.set $a (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $va0) (local.get $va0)))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $va1) (local.get $va1)))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $va2) (local.get $va2)))
          (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $va3) (local.get $va3)))
          (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
          (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
          (local.set $p2 (i32.add (local.get $p2) (i32.const 16)))
          (local.set $p3 (i32.add (local.get $p3) (i32.const 16)))
          (local.set $pb (i32.add (local.get $pb) (i32.const 128)))
          (br_if $k4 (i32.lt_u (local.get $pb) (local.get $end4)))))
      (block $done1
        (br_if $done1 (i32.ge_u (local.get $pb) (local.get $end)))
        (loop $k1
          (local.set $b0 (v128.load (local.get $pb)))
          (local.set $b1 (v128.load offset=16 (local.get $pb)))
          (local.set $a (v128.load32_splat (local.get $p0)))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (v128.load32_splat (local.get $p1)))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (v128.load32_splat (local.get $p2)))
          (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (v128.load32_splat (local.get $p3)))
          (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $p0 (i32.add (local.get $p0) (i32.const 4)))
          (local.set $p1 (i32.add (local.get $p1) (i32.const 4)))
          (local.set $p2 (i32.add (local.get $p2) (i32.const 4)))
          (local.set $p3 (i32.add (local.get $p3) (i32.const 4)))
          (local.set $pb (i32.add (local.get $pb) (i32.const 32)))
          (br_if $k1 (i32.lt_u (local.get $pb) (local.get $end)))))
      ;; pb moves on to the next panel
      (local.set $pb (local.get $end))
      (local.set $t (local.get $pc))
      (if (local.get $acc)
        (then
          (local.set $c00 (f32x4.add (local.get $c00) (v128.load (local.get $t))))
          (local.set $c01 (f32x4.add (local.get $c01) (v128.load offset=16 (local.get $t))))
          (local.set $t (i32.add (local.get $t) (local.get $ldc)))
          (local.set $c10 (f32x4.add (local.get $c10) (v128.load (local.get $t))))
          (local.set $c11 (f32x4.add (local.get $c11) (v128.load offset=16 (local.get $t))))
          (local.set $t (i32.add (local.get $t) (local.get $ldc)))
          (local.set $c20 (f32x4.add (local.get $c20) (v128.load (local.get $t))))
          (local.set $c21 (f32x4.add (local.get $c21) (v128.load offset=16 (local.get $t))))
          (local.set $t (i32.add (local.get $t) (local.get $ldc)))
          (local.set $c30 (f32x4.add (local.get $c30) (v128.load (local.get $t))))
          (local.set $c31 (f32x4.add (local.get $c31) (v128.load offset=16 (local.get $t))))))
      (local.set $t (local.get $pc))
      (v128.store (local.get $t) (local.get $c00))
      (v128.store offset=16 (local.get $t) (local.get $c01))
      (local.set $t (i32.add (local.get $t) (local.get $ldc)))
      (v128.store (local.get $t) (local.get $c10))
      (v128.store offset=16 (local.get $t) (local.get $c11))
      (local.set $t (i32.add (local.get $t) (local.get $ldc)))
      (v128.store (local.get $t) (local.get $c20))
      (v128.store offset=16 (local.get $t) (local.get $c21))
      (local.set $t (i32.add (local.get $t) (local.get $ldc)))
      (v128.store (local.get $t) (local.get $c30))
      (v128.store offset=16 (local.get $t) (local.get $c31))
      (local.set $pc (i32.add (local.get $pc) (i32.const 32)))
      (local.set $np (i32.sub (local.get $np) (i32.const 1)))
      (br_if $panel (i32.gt_s (local.get $np) (i32.const 0)))))

  ;; As $microRows, for A whose tile rows are adjacent at each k (transposed
  ;; A, or the packed edge rows): A(i0+r, k0+k) at qa + 4r + k*ks: one v128 load
  ;; per k, whose lanes are splatted by shuffles. 2 k per iteration.
  (func $microCols
    (param $qa i32) (param $ks i32)
    (param $pb i32) (param $kc i32) (param $np i32) (param $pc i32) (param $ldc i32) (param $acc i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $a v128)
    (local $va0 v128)
    (local $pa i32) (local $t i32) (local $end i32) (local $end2 i32)
    (loop $panel
      (local.set $pa (local.get $qa))
      (local.set $c00 (v128.const i32x4 0 0 0 0))
      (local.set $c01 (v128.const i32x4 0 0 0 0))
      (local.set $c10 (v128.const i32x4 0 0 0 0))
      (local.set $c11 (v128.const i32x4 0 0 0 0))
      (local.set $c20 (v128.const i32x4 0 0 0 0))
      (local.set $c21 (v128.const i32x4 0 0 0 0))
      (local.set $c30 (v128.const i32x4 0 0 0 0))
      (local.set $c31 (v128.const i32x4 0 0 0 0))
      (local.set $end (i32.add (local.get $pb) (i32.shl (local.get $kc) (i32.const 5))))
      (local.set $end2 (i32.sub (local.get $end) (i32.const 32)))
      (block $done2
        (br_if $done2 (i32.ge_u (local.get $pb) (local.get $end2)))
        (loop $k2
          (local.set $va0 (v128.load (local.get $pa)))
          (local.set $b0 (v128.load (local.get $pb)))
          (local.set $b1 (v128.load offset=16 (local.get $pb)))
          (local.set $a (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $va0) (local.get $va0)))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $va0) (local.get $va0)))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $va0) (local.get $va0)))
          (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $va0) (local.get $va0)))
          (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $pa (i32.add (local.get $pa) (local.get $ks)))
          (local.set $va0 (v128.load (local.get $pa)))
          (local.set $b0 (v128.load offset=32 (local.get $pb)))
          (local.set $b1 (v128.load offset=48 (local.get $pb)))
          (local.set $a (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $va0) (local.get $va0)))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $va0) (local.get $va0)))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $va0) (local.get $va0)))
          (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $va0) (local.get $va0)))
          (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $pa (i32.add (local.get $pa) (local.get $ks)))
          (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
          (br_if $k2 (i32.lt_u (local.get $pb) (local.get $end2)))))
      (if (i32.lt_u (local.get $pb) (local.get $end))
        (then
          (local.set $va0 (v128.load (local.get $pa)))
          (local.set $b0 (v128.load (local.get $pb)))
          (local.set $b1 (v128.load offset=16 (local.get $pb)))
          (local.set $a (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $va0) (local.get $va0)))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $va0) (local.get $va0)))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $va0) (local.get $va0)))
          (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
          (local.set $a (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $va0) (local.get $va0)))
          (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
          (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))))
      ;; pb moves on to the next panel
      (local.set $pb (local.get $end))
      (local.set $t (local.get $pc))
      (if (local.get $acc)
        (then
          (local.set $c00 (f32x4.add (local.get $c00) (v128.load (local.get $t))))
          (local.set $c01 (f32x4.add (local.get $c01) (v128.load offset=16 (local.get $t))))
          (local.set $t (i32.add (local.get $t) (local.get $ldc)))
          (local.set $c10 (f32x4.add (local.get $c10) (v128.load (local.get $t))))
          (local.set $c11 (f32x4.add (local.get $c11) (v128.load offset=16 (local.get $t))))
          (local.set $t (i32.add (local.get $t) (local.get $ldc)))
          (local.set $c20 (f32x4.add (local.get $c20) (v128.load (local.get $t))))
          (local.set $c21 (f32x4.add (local.get $c21) (v128.load offset=16 (local.get $t))))
          (local.set $t (i32.add (local.get $t) (local.get $ldc)))
          (local.set $c30 (f32x4.add (local.get $c30) (v128.load (local.get $t))))
          (local.set $c31 (f32x4.add (local.get $c31) (v128.load offset=16 (local.get $t))))))
      (local.set $t (local.get $pc))
      (v128.store (local.get $t) (local.get $c00))
      (v128.store offset=16 (local.get $t) (local.get $c01))
      (local.set $t (i32.add (local.get $t) (local.get $ldc)))
      (v128.store (local.get $t) (local.get $c10))
      (v128.store offset=16 (local.get $t) (local.get $c11))
      (local.set $t (i32.add (local.get $t) (local.get $ldc)))
      (v128.store (local.get $t) (local.get $c20))
      (v128.store offset=16 (local.get $t) (local.get $c21))
      (local.set $t (i32.add (local.get $t) (local.get $ldc)))
      (v128.store (local.get $t) (local.get $c30))
      (v128.store offset=16 (local.get $t) (local.get $c31))
      (local.set $pc (i32.add (local.get $pc) (i32.const 32)))
      (local.set $np (i32.sub (local.get $np) (i32.const 1)))
      (br_if $panel (i32.gt_s (local.get $np) (i32.const 0)))))

  ;; Packs kc×nc of op(B), element (k, n) at src + k*ks + n*ns, into panels of
  ;; 8 columns at dst: panel p holds columns 8p..8p+7 as [kc][8] floats;
  ;; columns past nc are zero.
  (func $packB
    (param $src i32) (param $ks i32) (param $ns i32) (param $kc i32) (param $nc i32) (param $dst i32)
    (local $n i32) (local $c i32) (local $k i32) (local $s i32) (local $d i32) (local $pstride i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $pstride (i32.shl (local.get $kc) (i32.const 5)))
    (block $panels_done
      (loop $panel
        (br_if $panels_done (i32.ge_s (local.get $n) (local.get $nc)))
        (if (i32.and (i32.eq (local.get $ns) (i32.const 4))
                     (i32.le_s (i32.add (local.get $n) (i32.const 8)) (local.get $nc)))
          (then
            ;; 8 contiguous columns per k: two vector copies
            (local.set $s (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
            (local.set $d (local.get $dst))
            (local.set $k (i32.const 0))
            (block $rows_done
              (loop $row
                (br_if $rows_done (i32.ge_s (local.get $k) (local.get $kc)))
                (v128.store (local.get $d) (v128.load (local.get $s)))
                (v128.store offset=16 (local.get $d) (v128.load offset=16 (local.get $s)))
                (local.set $s (i32.add (local.get $s) (local.get $ks)))
                (local.set $d (i32.add (local.get $d) (i32.const 32)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $row))))
          (else
            (if (i32.and (i32.eq (local.get $ks) (i32.const 4))
                         (i32.le_s (i32.add (local.get $n) (i32.const 8)) (local.get $nc)))
              (then
                ;; transposed B (k contiguous per column): 4×4 register transposes,
                ;; 4 k at a time for each group of 4 columns
                (local.set $c (i32.const 0))
                (loop $group
                  (local.set $s (i32.add (local.get $src)
                                         (i32.mul (i32.add (local.get $n) (local.get $c)) (local.get $ns))))
                  (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))))
                  (local.set $k (i32.const 0))
                  (block $quads_done
                    (loop $quad
                      (br_if $quads_done (i32.gt_s (i32.add (local.get $k) (i32.const 4)) (local.get $kc)))
                      (local.set $v0 (v128.load (local.get $s)))
                      (local.set $v1 (v128.load (i32.add (local.get $s) (local.get $ns))))
                      (local.set $v2 (v128.load (i32.add (local.get $s) (i32.shl (local.get $ns) (i32.const 1)))))
                      (local.set $v3 (v128.load (i32.add (local.get $s) (i32.mul (local.get $ns) (i32.const 3)))))
                      ;; t0 = v0[0] v1[0] v0[1] v1[1]; t1 = v2[0] v3[0] v2[1] v3[1]
                      (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v0) (local.get $v1)))
                      (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v2) (local.get $v3)))
                      ;; t2 = v0[2] v1[2] v0[3] v1[3]; t3 = v2[2] v3[2] v2[3] v3[3]
                      (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v0) (local.get $v1)))
                      (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v2) (local.get $v3)))
                      ;; row k+j holds (v0[j], v1[j], v2[j], v3[j])
                      (v128.store (local.get $d)
                        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
                      (v128.store offset=32 (local.get $d)
                        (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
                      (v128.store offset=64 (local.get $d)
                        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))
                      (v128.store offset=96 (local.get $d)
                        (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))
                      (local.set $s (i32.add (local.get $s) (i32.const 16)))
                      (local.set $d (i32.add (local.get $d) (i32.const 128)))
                      (local.set $k (i32.add (local.get $k) (i32.const 4)))
                      (br $quad)))
                  ;; remaining k (kc not a multiple of 4), one at a time
                  (block $tail_done
                    (loop $tail
                      (br_if $tail_done (i32.ge_s (local.get $k) (local.get $kc)))
                      (f32.store (local.get $d) (f32.load (local.get $s)))
                      (f32.store offset=4 (local.get $d) (f32.load (i32.add (local.get $s) (local.get $ns))))
                      (f32.store offset=8 (local.get $d)
                        (f32.load (i32.add (local.get $s) (i32.shl (local.get $ns) (i32.const 1)))))
                      (f32.store offset=12 (local.get $d)
                        (f32.load (i32.add (local.get $s) (i32.mul (local.get $ns) (i32.const 3)))))
                      (local.set $s (i32.add (local.get $s) (i32.const 4)))
                      (local.set $d (i32.add (local.get $d) (i32.const 32)))
                      (local.set $k (i32.add (local.get $k) (i32.const 1)))
                      (br $tail)))
                  (local.set $c (i32.add (local.get $c) (i32.const 4)))
                  (br_if $group (i32.lt_s (local.get $c) (i32.const 8)))))
              (else
                ;; general / edge panel: column by column, zeros past nc
                (local.set $c (i32.const 0))
                (loop $col
                  (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))))
                  (local.set $k (i32.const 0))
                  (if (i32.lt_s (i32.add (local.get $n) (local.get $c)) (local.get $nc))
                    (then
                      (local.set $s (i32.add (local.get $src)
                                             (i32.mul (i32.add (local.get $n) (local.get $c)) (local.get $ns))))
                      (block $k_done
                        (loop $kl
                          (br_if $k_done (i32.ge_s (local.get $k) (local.get $kc)))
                          (f32.store (local.get $d) (f32.load (local.get $s)))
                          (local.set $s (i32.add (local.get $s) (local.get $ks)))
                          (local.set $d (i32.add (local.get $d) (i32.const 32)))
                          (local.set $k (i32.add (local.get $k) (i32.const 1)))
                          (br $kl))))
                    (else
                      (block $z_done
                        (loop $zl
                          (br_if $z_done (i32.ge_s (local.get $k) (local.get $kc)))
                          (f32.store (local.get $d) (f32.const 0))
                          (local.set $d (i32.add (local.get $d) (i32.const 32)))
                          (local.set $k (i32.add (local.get $k) (i32.const 1)))
                          (br $zl)))))
                  (local.set $c (i32.add (local.get $c) (i32.const 1)))
                  (br_if $col (i32.lt_s (local.get $c) (i32.const 8))))))))
        (local.set $n (i32.add (local.get $n) (i32.const 8)))
        (local.set $dst (i32.add (local.get $dst) (local.get $pstride)))
        (br $panel))))

  ;; Copies the last (< 4) rows of transposed A for kc steps of k into dst as
  ;; [kc][4] (A(i0+r, k) at src + 4r + k*ks; rows past `last` repeat row last).
  (func $packAEdge (param $src i32) (param $ks i32) (param $kc i32) (param $last i32) (param $dst i32)
    (local $o1 i32) (local $o2 i32) (local $o3 i32) (local $end i32)
    (local.set $o1 (i32.shl (select (i32.const 1) (local.get $last) (i32.gt_s (local.get $last) (i32.const 1))) (i32.const 2)))
    (local.set $o2 (i32.shl (select (i32.const 2) (local.get $last) (i32.gt_s (local.get $last) (i32.const 2))) (i32.const 2)))
    (local.set $o3 (i32.shl (local.get $last) (i32.const 2)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $kc) (i32.const 4))))
    (loop $k
      (f32.store (local.get $dst) (f32.load (local.get $src)))
      (f32.store offset=4 (local.get $dst) (f32.load (i32.add (local.get $src) (local.get $o1))))
      (f32.store offset=8 (local.get $dst) (f32.load (i32.add (local.get $src) (local.get $o2))))
      (f32.store offset=12 (local.get $dst) (f32.load (i32.add (local.get $src) (local.get $o3))))
      (local.set $src (i32.add (local.get $src) (local.get $ks)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (br_if $k (i32.lt_u (local.get $dst) (local.get $end)))))

  ;; Copies rows×cols of the 4×8 edge tile into C (row stride ldc bytes),
  ;; adding to C when acc.
  (func $storeEdge
    (param $tile i32) (param $pc i32) (param $ldc i32) (param $rows i32) (param $cols i32) (param $acc i32)
    (local $r i32) (local $c i32) (local $v f32) (local $s i32) (local $d i32)
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_s (local.get $r) (local.get $rows)))
        (local.set $s (i32.add (local.get $tile) (i32.shl (local.get $r) (i32.const 5))))
        (local.set $d (i32.add (local.get $pc) (i32.mul (local.get $r) (local.get $ldc))))
        (local.set $c (i32.const 0))
        (block $cols_done
          (loop $col
            (br_if $cols_done (i32.ge_s (local.get $c) (local.get $cols)))
            (local.set $v (f32.load (local.get $s)))
            (if (local.get $acc)
              (then (local.set $v (f32.add (local.get $v) (f32.load (local.get $d))))))
            (f32.store (local.get $d) (local.get $v))
            (local.set $s (i32.add (local.get $s) (i32.const 4)))
            (local.set $d (i32.add (local.get $d) (i32.const 4)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $col)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; C[b] = op(A[b]) · op(B[b]) for b < batch; see the header for the strides
  ;; (all in bytes; transA: A is stored transposed, i.e. ars = 4). KC, NC: block
  ;; sizes (NC a multiple of 8). Requires M, N, K ≥ 1.
  (func (export "gemm")
    (param $a i32) (param $b i32) (param $c i32) (param $scratch i32)
    (param $batch i32) (param $aBS i32) (param $bBS i32) (param $cBS i32)
    (param $M i32) (param $N i32) (param $K i32)
    (param $transA i32) (param $ars i32) (param $aks i32) (param $bks i32) (param $bns i32)
    (param $KC i32) (param $NC i32)
    (local $bi i32) (local $aB i32) (local $bB i32) (local $cB i32)
    (local $n0 i32) (local $nc i32) (local $k0 i32) (local $kc i32)
    (local $i0 i32) (local $rows i32) (local $last i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $ks i32)
    (local $p i32) (local $pb i32) (local $pc i32) (local $ldc i32) (local $acc i32)
    (local $edgeA i32) (local $packB i32) (local $reuse i32) (local $full i32)
    (local.set $ldc (i32.shl (local.get $N) (i32.const 2)))
    (local.set $edgeA (i32.add (local.get $scratch) (i32.const 128)))
    (local.set $packB (i32.add (local.get $edgeA) (i32.shl (local.get $KC) (i32.const 4))))
    ;; a single block of a broadcast B is packed once for all batches
    (local.set $reuse (i32.and (i32.eqz (local.get $bBS))
                               (i32.and (i32.le_s (local.get $N) (local.get $NC))
                                        (i32.le_s (local.get $K) (local.get $KC)))))
    (local.set $bi (i32.const 0))
    (loop $batch_loop
      (local.set $aB (i32.add (local.get $a) (i32.mul (local.get $bi) (local.get $aBS))))
      (local.set $bB (i32.add (local.get $b) (i32.mul (local.get $bi) (local.get $bBS))))
      (local.set $cB (i32.add (local.get $c) (i32.mul (local.get $bi) (local.get $cBS))))
      (local.set $n0 (i32.const 0))
      (loop $n_loop
        (local.set $nc (i32.sub (local.get $N) (local.get $n0)))
        (if (i32.gt_s (local.get $nc) (local.get $NC)) (then (local.set $nc (local.get $NC))))
        (local.set $k0 (i32.const 0))
        (loop $k_loop
          (local.set $kc (i32.sub (local.get $K) (local.get $k0)))
          (if (i32.gt_s (local.get $kc) (local.get $KC)) (then (local.set $kc (local.get $KC))))
          (local.set $acc (i32.gt_s (local.get $k0) (i32.const 0)))
          (if (i32.or (i32.eqz (local.get $reuse)) (i32.eqz (local.get $bi)))
            (then
              (call $packB
                (i32.add (local.get $bB)
                         (i32.add (i32.mul (local.get $k0) (local.get $bks))
                                  (i32.mul (local.get $n0) (local.get $bns))))
                (local.get $bks) (local.get $bns) (local.get $kc) (local.get $nc) (local.get $packB))))
          (local.set $i0 (i32.const 0))
          (loop $i_loop
            (local.set $rows (i32.sub (local.get $M) (local.get $i0)))
            (if (i32.gt_s (local.get $rows) (i32.const 4)) (then (local.set $rows (i32.const 4))))
            (local.set $last (i32.sub (local.get $rows) (i32.const 1)))
            ;; A(i0, k0)
            (local.set $p0 (i32.add (local.get $aB)
                                    (i32.add (i32.mul (local.get $i0) (local.get $ars))
                                             (i32.mul (local.get $k0) (local.get $aks)))))
            (if (local.get $transA)
              (then
                (local.set $ks (local.get $aks))
                (if (i32.lt_s (local.get $rows) (i32.const 4))
                  (then
                    (call $packAEdge (local.get $p0) (local.get $aks) (local.get $kc) (local.get $last) (local.get $edgeA))
                    (local.set $p0 (local.get $edgeA))
                    (local.set $ks (i32.const 16)))))
              (else
                ;; rows past M re-read the last row (never stored)
                (local.set $p1 (i32.add (local.get $p0) (i32.mul (select (i32.const 1) (local.get $last)
                  (i32.gt_s (local.get $last) (i32.const 1))) (local.get $ars))))
                (local.set $p2 (i32.add (local.get $p0) (i32.mul (select (i32.const 2) (local.get $last)
                  (i32.gt_s (local.get $last) (i32.const 2))) (local.get $ars))))
                (local.set $p3 (i32.add (local.get $p0) (i32.mul (local.get $last) (local.get $ars))))))
            (local.set $pc (i32.add (local.get $cB)
                                    (i32.shl (i32.add (i32.mul (local.get $i0) (local.get $N)) (local.get $n0))
                                             (i32.const 2))))
            ;; full tiles: all complete panels of a 4-row tile in one call
            (local.set $full (select (i32.shr_s (local.get $nc) (i32.const 3)) (i32.const 0)
                                     (i32.eq (local.get $rows) (i32.const 4))))
            (if (local.get $full)
              (then
                (if (local.get $transA)
                  (then (call $microCols (local.get $p0) (local.get $ks) (local.get $packB) (local.get $kc)
                          (local.get $full) (local.get $pc) (local.get $ldc) (local.get $acc)))
                  (else (call $microRows (local.get $p0) (local.get $p1) (local.get $p2) (local.get $p3)
                          (local.get $packB) (local.get $kc) (local.get $full) (local.get $pc) (local.get $ldc)
                          (local.get $acc))))))
            ;; edge tiles (fewer rows or columns): one panel at a time via the scratch tile
            (local.set $p (i32.shl (local.get $full) (i32.const 3)))
            (local.set $pb (i32.add (local.get $packB) (i32.mul (local.get $full) (i32.shl (local.get $kc) (i32.const 5)))))
            (local.set $pc (i32.add (local.get $pc) (i32.shl (local.get $p) (i32.const 2))))
            (block $edges_done
              (loop $p_loop
                (br_if $edges_done (i32.ge_s (local.get $p) (local.get $nc)))
                (if (local.get $transA)
                  (then (call $microCols (local.get $p0) (local.get $ks) (local.get $pb) (local.get $kc)
                          (i32.const 1) (local.get $scratch) (i32.const 32) (i32.const 0)))
                  (else (call $microRows (local.get $p0) (local.get $p1) (local.get $p2) (local.get $p3)
                          (local.get $pb) (local.get $kc) (i32.const 1) (local.get $scratch) (i32.const 32)
                          (i32.const 0))))
                (call $storeEdge (local.get $scratch) (local.get $pc) (local.get $ldc) (local.get $rows)
                  (select (i32.const 8) (i32.sub (local.get $nc) (local.get $p))
                          (i32.gt_s (i32.sub (local.get $nc) (local.get $p)) (i32.const 8)))
                  (local.get $acc))
                (local.set $pb (i32.add (local.get $pb) (i32.shl (local.get $kc) (i32.const 5))))
                (local.set $pc (i32.add (local.get $pc) (i32.const 32)))
                (local.set $p (i32.add (local.get $p) (i32.const 8)))
                (br $p_loop)))
            (local.set $i0 (i32.add (local.get $i0) (i32.const 4)))
            (br_if $i_loop (i32.lt_s (local.get $i0) (local.get $M))))
          (local.set $k0 (i32.add (local.get $k0) (local.get $KC)))
          (br_if $k_loop (i32.lt_s (local.get $k0) (local.get $K))))
        (local.set $n0 (i32.add (local.get $n0) (local.get $NC)))
        (br_if $n_loop (i32.lt_s (local.get $n0) (local.get $N))))
      (local.set $bi (i32.add (local.get $bi) (i32.const 1)))
      (br_if $batch_loop (i32.lt_s (local.get $bi) (local.get $batch))))))
