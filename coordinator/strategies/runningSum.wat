;; The streaming kernel of RunningSum (runningSum.ts): folds one float32 update
;; into a float64 running sum,
;;
;;   sum[i] += w · f64(x[i])      0 ≤ i < n
;;
;; Source of runningSumWasm.ts (base64 of the binary). After editing, regenerate
;; it: UPDATE_RUNNING_SUM_WASM=1 npx vitest run test/coordinator/aggregateWasm.test.ts
;; (the same test fails when the committed binary has drifted from this file).
;;
;; Every lane does exactly what the JavaScript fallback does per element (an
;; f64 multiply, then an f64 add; WebAssembly never fuses them), so the two
;; kernels give bit-identical sums.
;;
;; The memory is imported (the caller sizes it once: the sum, then a staging
;; chunk the caller copies the update into). Pointers are byte offsets; `s` is
;; 16-byte aligned, `x` 8-byte aligned.
(module
  (import "env" "memory" (memory 1))

  (func (export "add") (param $s i32) (param $x i32) (param $n i32) (param $w f64)
    (local $wv v128) (local $end8 i32) (local $end i32)
    (local.set $wv (f64x2.splat (local.get $w)))
    ;; end of the part that is a multiple of 8 floats, and of all n floats
    (local.set $end8 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 2))))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))

    ;; 8 floats per iteration: 4 × (load 2 floats, widen to f64x2, scale, add to the sum)
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $x) (local.get $end8)))
        (v128.store offset=0 (local.get $s)
          (f64x2.add (v128.load offset=0 (local.get $s))
            (f64x2.mul (local.get $wv) (f64x2.promote_low_f32x4 (v128.load64_zero offset=0 (local.get $x))))))
        (v128.store offset=16 (local.get $s)
          (f64x2.add (v128.load offset=16 (local.get $s))
            (f64x2.mul (local.get $wv) (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $x))))))
        (v128.store offset=32 (local.get $s)
          (f64x2.add (v128.load offset=32 (local.get $s))
            (f64x2.mul (local.get $wv) (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $x))))))
        (v128.store offset=48 (local.get $s)
          (f64x2.add (v128.load offset=48 (local.get $s))
            (f64x2.mul (local.get $wv) (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $x))))))
        (local.set $s (i32.add (local.get $s) (i32.const 64)))
        (local.set $x (i32.add (local.get $x) (i32.const 32)))
        (br $next8)))

    ;; the last n mod 8 floats, one at a time
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (f64.store (local.get $s)
          (f64.add (f64.load (local.get $s))
            (f64.mul (local.get $w) (f64.promote_f32 (f32.load (local.get $x))))))
        (local.set $s (i32.add (local.get $s) (i32.const 8)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $next)))
  )
)
