/**
 * Benchmark: the compute sandbox's metering overhead, the same CPU-heavy module run metered and
 * unmetered in one process.
 *
 *   node --import tsx bench/compute-metering.ts [--size N] [--iterations I] [--reps R] [--json]
 *
 * The module (WAT below, assembled and optimized with binaryen -O2 first, as a toolchain would
 * ship it) renders an N×N Mandelbrot set with up to I iterations a pixel (f64 arithmetic, one
 * byte a pixel into linear memory), hashes each row with an integer mix (i32 multiply, rotate,
 * xor) in a function it calls once a row, writes the image to /output/mandelbrot.pgm and the
 * hash to stdout. Defaults: 2048×2048, 384 iterations, about a second unmetered.
 *
 * Both sides go through runTaskInline on this thread, so the WASI host, the instantiation and the
 * output collection are the same; the difference is only the module: the instrumented one
 * (fuel charged per region, the stack budget, the memory cap, NaN canonicalization at stores;
 * networks/compute/src/sandbox/meter.ts) against the module as given. After one untimed warm-up
 * run of each (V8 compiles lazily and tiers up to TurboFan), R repetitions alternate metered
 * and unmetered; the time of a run is its durationMs (instantiate + _start). Reported: the
 * median of each side, ratio = metered / unmetered against the target ≤ 1.3, the compute units
 * (the same on every rep: they are exact) and whether both sides wrote the same outputs.
 *
 * Exits 1 if the sides' outputs differ, if compute units vary between reps, or if the ratio
 * misses the target. --json prints one JSON object instead of the lines.
 */
import { parseArgs } from 'node:util';
import binaryen from 'binaryen';
import { runTaskInline } from '../networks/compute/src/sandbox/index.ts';

const TARGET_RATIO = 1.3;

function moduleSource(size: number, iterations: number): string {
  const pages = Math.ceil((size * size + 65536) / 65536);
  return `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") ${pages})
  (data (i32.const 64) "mandelbrot.pgm")
  (data (i32.const 96) "P5 ${size} ${size} 255\\n")
  (global $image i32 (i32.const 65536))

  ;; One row of the set: iteration counts, one byte a pixel.
  (func $row (param $y i32) (local $x i32) (local $i i32) (local $cr f64) (local $ci f64) (local $zr f64) (local $zi f64) (local $t f64)
    (local.set $ci (f64.sub (f64.div (f64.mul (f64.convert_i32_u (local.get $y)) (f64.const 2.4)) (f64.const ${size})) (f64.const 1.2)))
    (local.set $x (i32.const 0))
    (loop $columns
      (local.set $cr (f64.sub (f64.div (f64.mul (f64.convert_i32_u (local.get $x)) (f64.const 3.2)) (f64.const ${size})) (f64.const 2.2)))
      (local.set $zr (f64.const 0))
      (local.set $zi (f64.const 0))
      (local.set $i (i32.const 0))
      (block $escaped
        (loop $iterate
          (local.set $t (f64.add (f64.sub (f64.mul (local.get $zr) (local.get $zr)) (f64.mul (local.get $zi) (local.get $zi))) (local.get $cr)))
          (local.set $zi (f64.add (f64.mul (f64.mul (f64.const 2) (local.get $zr)) (local.get $zi)) (local.get $ci)))
          (local.set $zr (local.get $t))
          (br_if $escaped (f64.gt (f64.add (f64.mul (local.get $zr) (local.get $zr)) (f64.mul (local.get $zi) (local.get $zi))) (f64.const 4)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $iterate (i32.lt_u (local.get $i) (i32.const ${iterations})))))
      (i32.store8 (i32.add (global.get $image) (i32.add (i32.mul (local.get $y) (i32.const ${size})) (local.get $x))) (local.get $i))
      (local.set $x (i32.add (local.get $x) (i32.const 1)))
      (br_if $columns (i32.lt_u (local.get $x) (i32.const ${size})))))

  ;; An integer mix of a row's bytes into the running hash.
  (func $hash (param $h i32) (param $p i32) (param $n i32) (result i32) (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (loop $bytes
      (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $p))) (i32.const 16777619)))
      (local.set $h (i32.add (i32.rotl (local.get $h) (i32.const 5)) (i32.const 0x9e3779b9)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br_if $bytes (i32.lt_u (local.get $p) (local.get $end))))
    (local.get $h))

  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start") (local $y i32) (local $h i32) (local $k i32) (local $fd i32)
    (local.set $h (i32.const 2166136261))
    (loop $rows
      (call $row (local.get $y))
      (local.set $h (call $hash (local.get $h) (i32.add (global.get $image) (i32.mul (local.get $y) (i32.const ${size}))) (i32.const ${size})))
      (local.set $y (i32.add (local.get $y) (i32.const 1)))
      (br_if $rows (i32.lt_u (local.get $y) (i32.const ${size}))))
    ;; the hash as 8 hex digits and a newline, on stdout
    (local.set $k (i32.const 0))
    (loop $digits
      (i32.store8 (i32.add (i32.const 32) (local.get $k))
        (i32.load8_u (i32.add (i32.const 48) (i32.and (i32.shr_u (local.get $h) (i32.sub (i32.const 28) (i32.mul (local.get $k) (i32.const 4)))) (i32.const 15)))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $digits (i32.lt_u (local.get $k) (i32.const 8))))
    (i32.store8 (i32.const 40) (i32.const 10))
    (call $write (i32.const 1) (i32.const 32) (i32.const 9))
    ;; the image, as a PGM file in /output (fd 4): O_CREAT|O_TRUNC, rights FD_WRITE
    (drop (call $path_open (i32.const 4) (i32.const 0) (i32.const 64) (i32.const 14) (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 12)))
    (local.set $fd (i32.load (i32.const 12)))
    (call $write (local.get $fd) (i32.const 96) (i32.const ${`P5 ${size} ${size} 255\n`.length}))
    (call $write (local.get $fd) (global.get $image) (i32.const ${size * size})))
  (data (i32.const 48) "0123456789abcdef"))`;
}

/** Assembles and optimizes the module (-O2), as a toolchain would ship it. */
function buildModule(size: number, iterations: number): Uint8Array {
  const m = binaryen.parseText(moduleSource(size, iterations));
  try {
    m.setFeatures(binaryen.Features.MutableGlobals | binaryen.Features.SignExt);
    if (!m.validate()) throw new Error('benchmark module does not validate');
    binaryen.setOptimizeLevel(2);
    binaryen.setShrinkLevel(0);
    m.optimize();
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '2048' },
      iterations: { type: 'string', default: '384' },
      reps: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
    },
  });
  const size = Number(values.size);
  const iterations = Number(values.iterations);
  const reps = Number(values.reps);
  if (!Number.isInteger(size) || size < 8 || size > 4096) throw new Error('--size must be an integer from 8 to 4096');
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error('--iterations must be a positive integer');
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer');

  const module = buildModule(size, iterations);
  const task = { module, programName: 'mandelbrot.wasm', limits: { fuel: Number.MAX_SAFE_INTEGER, outputBytes: size * size + 1024 } };
  const prepareStarted = performance.now();
  runTaskInline(task, { metered: true }); // warm-up; also instruments the module (cached by CID) and tiers up
  const prepareMs = performance.now() - prepareStarted;
  runTaskInline(task, { metered: false });
  const metered: number[] = [];
  const unmetered: number[] = [];
  const units = new Set<number>();
  const outputCids = new Set<string>();
  for (let r = 0; r < reps; r++) {
    // Alternate the order so that neither side always runs on a warmer machine.
    const order = r % 2 === 0 ? [true, false] : [false, true];
    for (const m of order) {
      const result = runTaskInline(task, { metered: m });
      (m ? metered : unmetered).push(result.durationMs);
      if (m) units.add(result.computeUnits);
      outputCids.add(result.outputCid);
      console.error(`rep ${r + 1}/${reps} ${m ? 'metered  ' : 'unmetered'} ${round(result.durationMs)} ms`);
    }
  }
  const meteredMs = median(metered);
  const unmeteredMs = median(unmetered);
  const ratio = meteredMs / unmeteredMs;
  const computeUnits = [...units];
  const outputsEqual = outputCids.size === 1;
  const unitsStable = computeUnits.length === 1;
  const targetMet = ratio <= TARGET_RATIO;
  const out = {
    size,
    iterations,
    reps,
    metered: { medianMs: round(meteredMs), runsMs: metered.map((x) => round(x)) },
    unmetered: { medianMs: round(unmeteredMs), runsMs: unmetered.map((x) => round(x)) },
    ratio: round(ratio, 3),
    target: TARGET_RATIO,
    targetMet,
    computeUnits: computeUnits[0] ?? null,
    unitsStable,
    unitsPerSecond: Math.round((computeUnits[0]! / meteredMs) * 1000),
    outputsEqual,
    outputCid: [...outputCids][0],
    firstMeteredRunMs: round(prepareMs),
  };
  if (values.json) console.log(JSON.stringify(out));
  else {
    console.log(`\ncompute metering, Mandelbrot ${size}×${size}, ≤ ${iterations} iterations a pixel, ${reps} reps each (runTaskInline)`);
    console.log(`  unmetered (the module as given):   median ${out.unmetered.medianMs} ms  (${out.unmetered.runsMs.join(', ')})`);
    console.log(`  metered (instrumented):            median ${out.metered.medianMs} ms  (${out.metered.runsMs.join(', ')})`);
    console.log(`  ratio metered/unmetered: ${out.ratio} (target <= ${TARGET_RATIO}: ${targetMet ? 'ok' : 'MISSED'})`);
    console.log(
      `  compute units: ${computeUnits.map((u) => u.toLocaleString('en-US')).join(', ')} (${unitsStable ? 'identical on every rep' : 'VARIED'}), ${out.unitsPerSecond.toLocaleString('en-US')} units/s metered`,
    );
    console.log(`  outputs: ${outputsEqual ? 'identical' : 'DIFFER'} on both sides (${out.outputCid})`);
    console.log(`  first metered run, with instrumenting, optimizing and compiling: ${out.firstMeteredRunMs} ms`);
  }
  if (!outputsEqual || !unitsStable || !targetMet) process.exitCode = 1;
}

await main();
