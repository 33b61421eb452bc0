// The compute sandbox: content addressing, load-time refusals, metering, the WASI host and the
// worker runner, on real modules (WAT assembled with binaryen, and one AssemblyScript program
// compiled with the WASI shim). No assertion depends on timing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import binaryen from 'binaryen';
import { base32 } from 'multiformats/bases/base32';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { CidError, CidMismatchError, checkCid, cidOf, parseCid } from '@groundwork/protocol';
import {
  clearModuleCache,
  DEFAULT_LIMITS,
  encodeRunOutputs,
  OUTPUT_ENCODING_MAGIC,
  outputCidOf,
  prepareModule,
  runTask,
  runTaskInline,
  SandboxError,
  type SandboxErrorCode,
  type Task,
  validateTask,
} from '../src/sandbox/index.ts';
import {
  ARGS,
  CLOCK_AND_RANDOM,
  COUNT_TO_TEN,
  command,
  DIVIDE_BY_ZERO,
  exitWith,
  FILES,
  grow,
  importing,
  INFINITE_LOOP,
  LIST_INPUT,
  NAN_BITS,
  RECURSE,
  recurseTo,
  UPPER,
  wat,
  writeMany,
} from './fixtures/sandbox/wat.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

/** Runs `fn` and checks that it throws a SandboxError with `code` whose message matches `message`. */
function assertSandboxError(fn: () => unknown, code: SandboxErrorCode, message?: RegExp): SandboxError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SandboxError, `expected a SandboxError ${code}, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

async function assertRejectsSandbox(p: Promise<unknown>, code: SandboxErrorCode, message?: RegExp): Promise<SandboxError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SandboxError, `expected a SandboxError ${code}, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

describe('cid', () => {
  test('cidOf is CIDv1 raw sha2-256 in base32, as multiformats computes it', async () => {
    const bytes = enc('hello, compute');
    const expected = CID.createV1(raw.code, await sha256.digest(bytes)).toString(base32);
    assert.equal(cidOf(bytes), expected);
    assert.match(cidOf(bytes), /^bafkrei[a-z2-7]{52}$/);
    assert.notEqual(cidOf(enc('hello, compute!')), expected);
  });

  test('parseCid refuses malformed strings, CIDv0 and other codecs, saying why', () => {
    assert.equal(parseCid(cidOf(enc('x'))).code, 0x55);
    assert.throws(
      () => parseCid('not a cid'),
      (e: unknown) => e instanceof CidError && /malformed CID "not a cid"/.test(e.message),
    );
    assert.throws(() => parseCid(''), CidError);
    // CIDv0 (dag-pb, base58btc)
    assert.throws(() => parseCid('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'), /CIDv0; expected CIDv1/);
    // CIDv1 dag-pb
    const dagPb = CID.createV1(0x70, CID.parse(cidOf(enc('x'))).multihash).toString(base32);
    assert.throws(() => parseCid(dagPb), /codec 0x70; expected raw/);
  });

  test('checkCid passes matching bytes and names expected and actual otherwise', () => {
    const a = enc('module a');
    checkCid(a, cidOf(a));
    assert.throws(
      () => checkCid(enc('module b'), cidOf(a), 'the module'),
      (e: unknown) =>
        e instanceof CidMismatchError &&
        e.expected === cidOf(a) &&
        e.actual === cidOf(enc('module b')) &&
        e.message === `the module do not match their CID: expected ${cidOf(a)}, got ${cidOf(enc('module b'))}`,
    );
    assert.throws(() => checkCid(a, 'bafk-broken'), CidError);
  });
});

describe('sandbox: running WASI commands', () => {
  test('stdin to stdout', () => {
    const r = runTaskInline({ module: UPPER, stdin: enc('hello, sandbox\n') });
    assert.equal(r.exitCode, 0);
    assert.equal(text(r.stdout), 'HELLO, SANDBOX\n');
    assert.equal(r.stderr.length, 0);
    assert.equal(r.outputs.size, 0);
    assert.equal(r.moduleCid, cidOf(UPPER));
    assert.equal(r.outputCid, outputCidOf({ exitCode: 0, stdout: r.stdout, outputs: new Map() }));
    assert.ok(r.computeUnits > 0);
  });

  test('a file from /input to /output; writes into /input get EROFS, climbing out ENOTCAPABLE', () => {
    const r = runTaskInline({ module: FILES, inputs: { 'in.txt': enc('abcdef') } });
    assert.equal(r.exitCode, 0);
    // open, read, mkdir, open for writing, write, close: 0; then into /input: EROFS (69) for write
    // rights, for O_CREAT and for mkdir, ENOTCAPABLE (76) for '../x'; a write on the read-only fd: EBADF (8).
    assert.deepEqual(text(r.stdout).trim().split('\n'), ['0', '0', '0', '0', '0', '0', '69', '69', '69', '76', '8']);
    assert.deepEqual([...r.outputs.keys()], ['out/result.txt']);
    assert.equal(text(r.outputs.get('out/result.txt')!), 'fedcba');
  });

  test('directory listing, stat and seek in /input, in a fixed order with fixed inode numbers', () => {
    const inputs = { 'b.txt': enc('bbb'), 'sub/c': enc('c'), 'a.txt': enc('abcdef') };
    const r = runTaskInline({ module: LIST_INPUT, inputs });
    // entries in UTF-8 order with their type (3 directory, 4 file); a.txt: size 6, a file, inode
    // 2 (inputs are numbered in sorted order from the root's 1); seek to 2, read 3, tell 5.
    assert.equal(text(r.stdout), '. 3\n.. 3\na.txt 4\nb.txt 4\nsub 3\n6\n4\n2\n2\ncde5\n');
    assert.equal(runTaskInline({ module: LIST_INPUT, inputs }).outputCid, r.outputCid);
  });

  test('args (argv[0] = program name) and env', () => {
    const r = runTaskInline({ module: ARGS, programName: 'echo.wasm', args: ['one', 'two words', 'ü'], env: { B: '2', A: '1' } });
    assert.equal(text(r.stdout), 'echo.wasm\none\ntwo words\nü\nA=1\nB=2\n');
    const bare = runTaskInline({ module: ARGS });
    assert.equal(text(bare.stdout), 'task.wasm\n');
  });

  test('proc_exit ends the run with its code; outputCid covers the exit code', () => {
    const zero = runTaskInline({ module: exitWith(0) });
    const three = runTaskInline({ module: exitWith(3) });
    assert.equal(zero.exitCode, 0);
    assert.equal(three.exitCode, 3);
    assert.equal(text(three.stdout), 'bye');
    assert.notEqual(zero.outputCid, three.outputCid);
  });

  test('a trap is a typed error with the engine message', () => {
    assertSandboxError(() => runTaskInline({ module: DIVIDE_BY_ZERO }), 'trap', /divide by zero/);
  });

  test('NaNs are canonical where their bits show: stored, reinterpreted, copysign', () => {
    const r = runTaskInline({ module: NAN_BITS });
    // 0x7fc00000 little-endian, then copysign(1, canonical NaN) = +1 = 0x3f800000
    assert.equal(text(r.stdout), '0000c07f\n0000803f\n');
  });

  test('the canonical output encoding', () => {
    const bytes = encodeRunOutputs({
      exitCode: 2,
      stdout: enc('out'),
      outputs: new Map([
        ['b.txt', enc('B')],
        ['a/x', enc('')],
      ]),
    });
    const magic = Buffer.from(OUTPUT_ENCODING_MAGIC);
    const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    const u64 = (n: number) => Buffer.concat([u32(0), u32(n)]);
    const entry = (name: string, data: string) =>
      Buffer.concat([u32(Buffer.byteLength(name)), Buffer.from(name), u64(Buffer.byteLength(data)), Buffer.from(data)]);
    const expected = Buffer.concat([magic, u32(2), u32(3), entry('', 'out'), entry('a/x', ''), entry('b.txt', 'B')]);
    assert.deepEqual(Buffer.from(bytes), expected);
  });
});

describe('sandbox: metering', () => {
  test('compute units are exact: a 10-iteration loop is 81 units (1 + 10 × 8)', () => {
    const r = runTaskInline({ module: COUNT_TO_TEN });
    assert.equal(r.computeUnits, 81);
  });

  test('an infinite loop is stopped by fuel, at exactly the fuel given', () => {
    const e = assertSandboxError(
      () => runTaskInline({ module: INFINITE_LOOP, limits: { fuel: 1000 } }),
      'fuel-exhausted',
      /^fuel exhausted after 1000 compute units/,
    );
    assert.equal(e.computeUnits, 1000);
    // fuel that exactly covers a run is enough; one unit less is not
    assert.equal(runTaskInline({ module: COUNT_TO_TEN, limits: { fuel: 81 } }).computeUnits, 81);
    assertSandboxError(() => runTaskInline({ module: COUNT_TO_TEN, limits: { fuel: 80 } }), 'fuel-exhausted', /after 80 compute units/);
  });

  test('host calls are charged too, so I/O is not free', () => {
    const small = runTaskInline({ module: UPPER, stdin: enc('a') });
    const big = runTaskInline({ module: UPPER, stdin: new Uint8Array(40_000).fill(97) });
    assert.ok(big.computeUnits > small.computeUnits);
  });

  test('units and outputs are identical across runs, inline and in separate workers', async () => {
    const task: Task = { module: FILES, inputs: new Map([['in.txt', enc('determinism')]]) };
    const a = runTaskInline(task);
    const b = runTaskInline(task);
    const [w1, w2] = await Promise.all([runTask(task), runTask(task)]);
    for (const r of [b, w1, w2]) {
      assert.equal(r.computeUnits, a.computeUnits);
      assert.equal(r.outputCid, a.outputCid);
      assert.deepEqual(r.outputs, a.outputs);
    }
    const upper = await runTask({ module: UPPER, stdin: enc('worker') });
    assert.equal(text(upper.stdout), 'WORKER');
    assert.equal(upper.computeUnits, runTaskInline({ module: UPPER, stdin: enc('worker') }).computeUnits);
  });

  test('instrumented modules are cached by CID, and instrumenting again gives the same bytes', () => {
    const first = prepareModule(UPPER);
    assert.equal(prepareModule(new Uint8Array(UPPER)), first);
    clearModuleCache();
    const again = prepareModule(UPPER);
    assert.notEqual(again, first);
    assert.deepEqual(again.instrumented, first.instrumented);
    assert.deepEqual(again.info, first.info);
  });
});

describe('sandbox: load-time refusals', () => {
  test('imports from other modules are refused, naming them', () => {
    assertSandboxError(() => validateTask({ module: importing('env', 'foo') }), 'import-refused', /env\.foo/);
  });

  test('WASI functions outside the subset are refused (sock_accept, poll_oneoff)', () => {
    assertSandboxError(
      () => validateTask({ module: importing('wasi_snapshot_preview1', 'sock_accept', '(param i32 i32 i32) (result i32)') }),
      'import-refused',
      /wasi_snapshot_preview1\.sock_accept.*not in the sandbox's WASI subset/,
    );
    assertSandboxError(
      () => validateTask({ module: importing('wasi_snapshot_preview1', 'poll_oneoff', '(param i32 i32 i32 i32) (result i32)') }),
      'import-refused',
      /poll_oneoff/,
    );
  });

  test('an allowed WASI name with the wrong signature is refused', () => {
    assertSandboxError(
      () => validateTask({ module: importing('wasi_snapshot_preview1', 'fd_write', '(param i32) (result i32)') }),
      'import-refused',
      /fd_write as \(i32\) -> \(i32\); WASI preview 1 defines it as \(i32, i32, i32, i32\) -> \(i32\)/,
    );
  });

  test('imported memories are refused', () => {
    const m = wat('(module (import "wasi_snapshot_preview1" "memory" (memory 1)) (export "memory" (memory 0)) (func (export "_start")))');
    assertSandboxError(() => validateTask({ module: m }), 'import-refused', /memory wasi_snapshot_preview1\.memory/);
  });

  test('clock and random are refused unless allowed, and deterministic when allowed', () => {
    assertSandboxError(() => validateTask({ module: CLOCK_AND_RANDOM }), 'import-refused', /clock_time_get.*does not allow the clock/);
    assertSandboxError(
      () => validateTask({ module: CLOCK_AND_RANDOM, allow: { clock: true } }),
      'import-refused',
      /random_get.*does not allow randomness/,
    );
    const allow = { clock: true, random: true };
    const a = runTaskInline({ module: CLOCK_AND_RANDOM, allow, seed: 'task-42' });
    const b = runTaskInline({ module: CLOCK_AND_RANDOM, allow, seed: 'task-42' });
    const c = runTaskInline({ module: CLOCK_AND_RANDOM, allow, seed: 'task-43' });
    assert.equal(text(a.stdout), text(b.stdout));
    const [clockA, stepA, randomA] = text(a.stdout).trim().split('\n');
    const [clockC, , randomC] = text(c.stdout).trim().split('\n');
    assert.equal(stepA, '1000'); // the monotonic clock advances 1 µs per read
    assert.notEqual(clockA, clockC);
    assert.notEqual(randomA, randomC);
    assert.match(randomA!, /^[0-9a-f]{64}$/);
    // realtime starts in 2024, from the seed
    const ns = Buffer.from(clockA!, 'hex').readBigUInt64LE(0);
    assert.ok(ns > 1_704_067_200_000_000_000n && ns < 1_704_067_200_000_000_000n + 2n ** 32n * 1000n + 10_000n);
  });

  test('threads (shared memory, atomics), SIMD and relaxed SIMD are refused, naming the feature', () => {
    const shared = wat(`(module (memory (export "memory") 1 1 shared)
      (func (export "_start") (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))))`);
    assertSandboxError(() => validateTask({ module: shared }), 'feature-refused', /threads \(shared memory\)/);
    const atomics = wat(`(module (memory (export "memory") 1)
      (func (export "_start") (atomic.fence)))`);
    assertSandboxError(() => validateTask({ module: atomics }), 'feature-refused', /threads \(atomic instructions\)/);
    const simd = wat(`(module (memory (export "memory") 1)
      (func (export "_start") (v128.store (i32.const 0) (i32x4.add (v128.load (i32.const 0)) (v128.load (i32.const 16))))))`);
    assertSandboxError(() => validateTask({ module: simd }), 'feature-refused', /SIMD/);
    const relaxed = wat(
      `(module (memory (export "memory") 1)
      (func (export "_start") (v128.store (i32.const 0) (f32x4.relaxed_madd (v128.load (i32.const 0)) (v128.load (i32.const 16)) (v128.load (i32.const 32))))))`,
      binaryen.Features.MutableGlobals | binaryen.Features.SIMD128 | binaryen.Features.RelaxedSIMD,
    );
    assertSandboxError(() => validateTask({ module: relaxed }), 'feature-refused', /relaxed SIMD/);
  });

  test('exceptions and tail calls are refused', () => {
    const eh = wat(`(module (memory (export "memory") 1) (tag $t)
      (func (export "_start") (try (do (throw $t)) (catch_all))))`);
    assertSandboxError(() => validateTask({ module: eh }), 'feature-refused', /exception handling/);
    const tail = wat(`(module (memory (export "memory") 1)
      (func $f) (func (export "_start") (return_call $f)))`);
    assertSandboxError(() => validateTask({ module: tail }), 'feature-refused', /tail calls/);
  });

  test('corrupt bytes and non-commands are invalid modules', () => {
    assertSandboxError(() => validateTask({ module: enc('definitely not wasm') }), 'invalid-module', /not a valid WebAssembly module/);
    assertSandboxError(() => validateTask({ module: UPPER.subarray(0, UPPER.length - 7) }), 'invalid-module');
    assertSandboxError(
      () => validateTask({ module: wat('(module (memory (export "memory") 1) (func (export "main")))') }),
      'invalid-module',
      /_start/,
    );
    assertSandboxError(() => validateTask({ module: wat('(module (memory 1) (func (export "_start")))') }), 'invalid-module', /memory/);
  });

  test('a module that does not match the task CID is refused, naming both', () => {
    const e = assertSandboxError(() => validateTask({ module: UPPER, moduleCid: cidOf(ARGS) }), 'cid-mismatch');
    assert.ok(e.message.includes(cidOf(ARGS)) && e.message.includes(cidOf(UPPER)), e.message);
    assert.equal(validateTask({ module: UPPER, moduleCid: cidOf(UPPER) }).cid, cidOf(UPPER));
    assertSandboxError(() => validateTask({ module: UPPER, moduleCid: 'nonsense' }), 'invalid-task', /malformed CID/);
  });
});

describe('sandbox: limits', () => {
  test('memory: the initial memory must fit the cap; grow past it returns -1 to the module', () => {
    const capped = { memoryBytes: 4 * 65536 };
    assertSandboxError(
      () => validateTask({ module: command({ memory: '5', body: '' }), limits: capped }),
      'memory-cap',
      /initial memory is 5 pages/,
    );
    assert.equal(text(runTaskInline({ module: grow(3), limits: capped }).stdout), '1\n'); // within the cap: the old size
    const refused = runTaskInline({ module: grow(10), limits: capped });
    assert.equal(text(refused.stdout), '-1\n');
    assert.equal(refused.exitCode, 0);
  });

  test('memory: a run that fails after a refused grow is stopped with memory-cap', () => {
    assertSandboxError(
      () => runTaskInline({ module: grow(10, true), limits: { memoryBytes: 4 * 65536 } }),
      'memory-cap',
      /memory\.grow to 11 pages .* refused by the task's memory cap of 262144 bytes, and then it trapped/,
    );
  });

  test('output caps: stdout and /output', () => {
    assertSandboxError(
      () => runTaskInline({ module: writeMany(5000, 'stdout'), limits: { stdoutBytes: 4096 } }),
      'output-too-large',
      /stdout.*4096/,
    );
    assert.equal(runTaskInline({ module: writeMany(4096, 'stdout'), limits: { stdoutBytes: 4096 } }).stdout.length, 4096);
    assertSandboxError(
      () => runTaskInline({ module: writeMany(5000, 'file'), limits: { outputBytes: 4096 } }),
      'output-too-large',
      /\/output.*4096/,
    );
    const ok = runTaskInline({ module: writeMany(3000, 'file'), limits: { outputBytes: 4096 } });
    assert.equal(ok.outputs.get('big.bin')?.length, 3000);
  });

  test('deep recursion stops at the stack budget, deterministically', async () => {
    const limits = { stackBytes: 64 * 1024 };
    const a = assertSandboxError(() => runTaskInline({ module: RECURSE, limits }), 'stack-overflow', /budget of 65536 bytes/);
    const b = assertSandboxError(() => runTaskInline({ module: RECURSE, limits }), 'stack-overflow');
    const w = await assertRejectsSandbox(runTask({ module: RECURSE, limits }), 'stack-overflow');
    assert.equal(b.computeUnits, a.computeUnits);
    assert.equal(w.computeUnits, a.computeUnits);
    // With the default budget in a worker, recursion goes deep (each frame here is ~100 bytes).
    const deep = await runTask({ module: recurseTo(20_000) });
    assert.equal(text(deep.stdout), '20000\n');
    await assertRejectsSandbox(runTask({ module: RECURSE }), 'stack-overflow', new RegExp(`budget of ${DEFAULT_LIMITS.stackBytes} bytes`));
  });

  test('the wall-clock timeout stops a worker as a last resort', async () => {
    await assertRejectsSandbox(runTask({ module: INFINITE_LOOP, limits: { timeoutMs: 200 } }), 'timeout', /200 ms timeout/);
  });

  test('workers are reused: after a stack overflow, a fuel stop, a trap and a timeout the next run is the same as the first', async () => {
    const first = await runTask({ module: UPPER, stdin: enc('same every time') });
    await assertRejectsSandbox(runTask({ module: RECURSE }), 'stack-overflow');
    await assertRejectsSandbox(runTask({ module: INFINITE_LOOP, limits: { fuel: 10_000 } }), 'fuel-exhausted');
    await assertRejectsSandbox(runTask({ module: DIVIDE_BY_ZERO }), 'trap');
    await assertRejectsSandbox(runTask({ module: INFINITE_LOOP, limits: { timeoutMs: 200 } }), 'timeout');
    for (let i = 0; i < 3; i++) {
      const again = await runTask({ module: UPPER, stdin: enc('same every time') });
      assert.equal(text(again.stdout), 'SAME EVERY TIME');
      assert.equal(again.computeUnits, first.computeUnits);
    }
  });

  test('a C program built with clang and wasi-libc runs unchanged: argv, stdin, /input, /output, stderr, exit status', async () => {
    // fixtures/c/wc.c, built by tools/build-c-fixture.mjs (clang --target=wasm32-wasip1 -O2).
    const module = new Uint8Array(readFileSync(path.join(ROOT, 'networks/compute/test/fixtures/c/wc.wasm')));
    const task: Task = {
      module,
      args: ['alpha', 'beta gamma'],
      stdin: enc('one two\nthree\n'),
      inputs: { 'names.txt': enc('ada\ngrace\nbarbara\n') },
    };
    const info = validateTask(task);
    assert.ok(info.imports.includes('fd_prestat_get') && info.imports.includes('path_open'), 'wasi-libc finds the preopened directories');
    const inline = runTaskInline(task);
    const worker = await runTask(task);
    for (const r of [inline, worker]) {
      assert.equal(r.exitCode, 0);
      assert.equal(text(r.stdout), 'stdin: 2 lines, 3 words, 14 bytes\narg 1: alpha\narg 2: beta gamma\nwrite to /input: refused\n');
      assert.equal(text(r.stderr), '3 names shouted\n');
      assert.equal(text(r.outputs.get('shout.txt')!), 'ADA\nGRACE\nBARBARA\n');
    }
    assert.equal(worker.computeUnits, inline.computeUnits, 'the same compute units on this thread and in a worker');
    // Fewer names than it expects: it exits 4, a result like any other.
    const short = runTaskInline({ ...task, inputs: { 'names.txt': enc('ada\n') } });
    assert.equal(short.exitCode, 4);
  });

  test('malformed tasks are refused', () => {
    assertSandboxError(() => validateTask({ module: UPPER, inputs: { '../x': enc('') } }), 'invalid-task');
    assertSandboxError(() => runTaskInline({ module: UPPER, inputs: { '/abs': enc('') } }), 'invalid-task');
    assertSandboxError(() => validateTask({ module: UPPER, limits: { fuel: -1 } }), 'invalid-task', /limits\.fuel/);
  });
});

describe('sandbox: a real WASI toolchain', () => {
  test('an AssemblyScript program compiled with the WASI shim runs unchanged', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'groundwork-sandbox-as-'));
    try {
      writeFileSync(
        path.join(dir, 'main.ts'),
        `const buf = new ArrayBuffer(4096);
let input = '';
while (true) {
  const n = process.stdin.read(buf);
  if (n <= 0) break;
  input += String.UTF8.decode(buf.slice(0, n));
}
const args = process.argv.slice(1);
let sum: i64 = 0;
for (let i = 0; i < 100000; i++) sum += <i64>i * <i64>(i % 7);
process.stdout.write(args.join('+') + ': ' + input.toUpperCase() + ' ' + sum.toString() + '\\n');
if (args.length > 2) process.exit(7);
`,
      );
      const asc = path.join(ROOT, 'node_modules', '.bin', 'asc');
      // A relative --config: asc 0.28 does not find the shim's library from an absolute one.
      const shim = path.join(ROOT, 'node_modules', '@assemblyscript', 'wasi-shim', 'asconfig.json');
      execFileSync(asc, [path.join(dir, 'main.ts'), '--config', path.relative(ROOT, shim), '-O2', '-o', path.join(dir, 'main.wasm')], {
        cwd: ROOT,
        stdio: 'pipe',
      });
      const module = new Uint8Array(readFileSync(path.join(dir, 'main.wasm')));
      const sum = Array.from({ length: 100000 }, (_, i) => i * (i % 7)).reduce((a, b) => a + b, 0);
      const r = runTaskInline({ module, args: ['a', 'b'], stdin: enc('assembly script') });
      assert.equal(r.exitCode, 0, text(r.stderr));
      assert.equal(text(r.stdout), `a+b: ASSEMBLY SCRIPT ${sum}\n`);
      const again = runTaskInline({ module, args: ['a', 'b'], stdin: enc('assembly script') });
      assert.equal(again.computeUnits, r.computeUnits);
      assert.ok(r.computeUnits > 100000);
      assert.equal(runTaskInline({ module, args: ['a', 'b', 'c'] }).exitCode, 7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
