/**
 * Keccak-256 and the Merkle-tree inner loops as one small WebAssembly module, assembled below
 * from opcodes, so the reward tree needs no hashing dependency and no async setup.
 *
 * Why WebAssembly: a reward tree of n leaves costs 3n Keccak-f[1600] permutations. A permutation
 * in WebAssembly keeps the 25 lanes in 64-bit locals with a native rotate; JavaScript has to
 * split every lane into two 32-bit halves (on the 2-core dev machine, @noble/hashes manages about
 * 0.1 M hashes/s, this kernel about 2.6 M permutations/s). The loops over
 * leaves and nodes also live in WebAssembly so that one call hashes a million leaves instead of
 * a million calls crossing the JavaScript boundary.
 *
 * Memory layout of every instance (byte offsets):
 *   0..199     the Keccak state, 25 little-endian 64-bit lanes
 *   200..391   the 24 round constants
 *   512..1023  scratch for one-off hashes (see {@link SCRATCH})
 *   1024..     caller data (see {@link KERNEL_RESERVED_BYTES})
 */

// ---------------------------------------------------------------------------------------------
// A tiny WebAssembly assembler: only the instructions the kernel uses.
// ---------------------------------------------------------------------------------------------

type Code = number[];

const I32 = 0x7f;
const I64 = 0x7e;

function uleb(value: number): Code {
  const out: Code = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function sleb(value: bigint): Code {
  const out: Code = [];
  for (;;) {
    const byte = Number(value & 0x7fn);
    value >>= 7n;
    const done = (value === 0n && (byte & 0x40) === 0) || (value === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const flat = (...parts: (number | Code)[]): Code => parts.flat();
const vec = (items: Code[]): Code => flat(uleb(items.length), ...items);
const name = (text: string): Code => flat(uleb(text.length), [...new TextEncoder().encode(text)]);
const section = (id: number, content: Code): Code => flat(id, uleb(content.length), content);

const get = (local: number) => flat(0x20, uleb(local));
const set = (local: number) => flat(0x21, uleb(local));
const i32c = (value: number) => flat(0x41, sleb(BigInt(value)));
const i64c = (value: bigint) => flat(0x42, sleb(BigInt.asIntN(64, value)));
const call = (fn: number) => flat(0x10, uleb(fn));
const load64 = (offset: number) => flat(0x29, 0, uleb(offset)); // align hint 0: records are unaligned
const store64 = (offset: number) => flat(0x37, 0, uleb(offset));
const load32u64 = (offset: number) => flat(0x35, 0, uleb(offset)); // i64.load32_u
const load8u = (offset: number) => flat(0x2d, 0, uleb(offset)); // i32.load8_u
const addTo = (local: number, amount: number) => flat(get(local), i32c(amount), 0x6a, set(local));

const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, depth],
  brIf: (depth: number) => [0x0d, depth],
  return: [0x0f],
  i32eqz: [0x45],
  i32ne: [0x47],
  i32ltU: [0x49],
  i32add: [0x6a],
  i32sub: [0x6b],
  i32shl: [0x74],
  i64and: [0x83],
  i64xor: [0x85],
  i64shl: [0x86],
  i64rotl: [0x89],
};

// ---------------------------------------------------------------------------------------------
// Keccak-f[1600] and the functions built on it.
// ---------------------------------------------------------------------------------------------

const RATE_BYTES = 136; // Keccak-256: 1088-bit rate
const RATE_LANES = RATE_BYTES / 8;
const RC_AT = 200;

/** Rotation offset of lane x + 5y (rho step). */
const RHO = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14];

const ROUND_CONSTANTS = [
  0x0000000000000001n,
  0x0000000000008082n,
  0x800000000000808an,
  0x8000000080008000n,
  0x000000000000808bn,
  0x0000000080000001n,
  0x8000000080008081n,
  0x8000000000008009n,
  0x000000000000008an,
  0x0000000000000088n,
  0x0000000080008009n,
  0x000000008000000an,
  0x000000008000808bn,
  0x800000000000008bn,
  0x8000000000008089n,
  0x8000000000008003n,
  0x8000000000008002n,
  0x8000000000000080n,
  0x000000000000800an,
  0x800000008000000an,
  0x8000000080008081n,
  0x8000000000008080n,
  0x0000000080000001n,
  0x8000000080008008n,
];

/** Push state lane k; store a value into state lane k. The state sits at address 0. */
const lane = (k: number) => flat(i32c(0), load64(8 * k));
const setLane = (k: number, value: Code) => flat(i32c(0), value, store64(8 * k));

/** Keccak padding for a message of `lanes` whole lanes in one block: 0x01 after it, 0x80 at the end. */
function padAfter(lanes: number): Code {
  const code: Code = [];
  for (let k = lanes; k < 25; k++) {
    let value = k === lanes ? 1n : 0n;
    if (k === RATE_LANES - 1) value |= 1n << 63n;
    code.push(...setLane(k, i64c(value)));
  }
  return code;
}

/** Copy the 32-byte digest (lanes 0..3) to the address in `outLocal`. */
const squeeze = (outLocal: number) => flat(...[0, 1, 2, 3].map((k) => flat(get(outLocal), lane(k), store64(8 * k))));

/** permute(): Keccak-f[1600] on the state in memory, lanes held in locals during the 24 rounds. */
function permuteBody(): { locals: [number, number][]; code: Code } {
  const A = (x: number, y: number) => (x % 5) + 5 * (y % 5); // locals 0..24
  const B = (x: number, y: number) => 25 + A(x, y); // locals 25..49
  const C = (x: number) => 50 + (x % 5); // locals 50..54
  const D = 55;
  const ROUND = 56; // i32: address of this round's constant
  const code: Code = [];
  for (let k = 0; k < 25; k++) code.push(...lane(k), ...set(k));
  code.push(...i32c(RC_AT), ...set(ROUND), ...op.loop);
  // theta: xor every column's parity into its neighbours
  for (let x = 0; x < 5; x++) {
    code.push(...get(A(x, 0)));
    for (let y = 1; y < 5; y++) code.push(...get(A(x, y)), ...op.i64xor);
    code.push(...set(C(x)));
  }
  for (let x = 0; x < 5; x++) {
    code.push(...get(C(x + 4)), ...get(C(x + 1)), ...i64c(1n), ...op.i64rotl, ...op.i64xor, ...set(D));
    for (let y = 0; y < 5; y++) code.push(...get(A(x, y)), ...get(D), ...op.i64xor, ...set(A(x, y)));
  }
  // rho and pi: rotate each lane and move (x, y) to (y, 2x + 3y)
  for (let x = 0; x < 5; x++) {
    for (let y = 0; y < 5; y++) {
      const r = RHO[A(x, y)]!;
      code.push(...get(A(x, y)));
      if (r !== 0) code.push(...i64c(BigInt(r)), ...op.i64rotl);
      code.push(...set(B(y, 2 * x + 3 * y)));
    }
  }
  // chi: a = b ^ (~b[x+1] & b[x+2]) along each row
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 5; x++) {
      code.push(...get(B(x, y)), ...get(B(x + 1, y)), ...i64c(-1n), ...op.i64xor);
      code.push(...get(B(x + 2, y)), ...op.i64and, ...op.i64xor, ...set(A(x, y)));
    }
  }
  // iota, then the next round
  code.push(...get(0), ...get(ROUND), ...load64(0), ...op.i64xor, ...set(0));
  code.push(...addTo(ROUND, 8), ...get(ROUND), ...i32c(RC_AT + 8 * 24), ...op.i32ne, ...op.brIf(0), ...op.end);
  for (let k = 0; k < 25; k++) code.push(...i32c(0), ...get(k), ...store64(8 * k));
  return {
    locals: [
      [56, I64],
      [1, I32],
    ],
    code,
  };
}

const FN = { permute: 0, lessThan: 1, hashPair: 2, hashLeaves: 3, buildTree: 4, sponge: 5 } as const;

/** lessThan(a, b) -> i32: the 32 bytes at a sort before those at b (big-endian, as OZ compares). */
function lessThanBody() {
  const [a, b, end, x, y] = [0, 1, 2, 3, 4];
  const code = flat(
    get(a),
    i32c(32),
    op.i32add,
    set(end),
    op.loop,
    get(a),
    load8u(0),
    set(x),
    get(b),
    load8u(0),
    set(y),
    get(x),
    get(y),
    op.i32ne,
    op.if,
    get(x),
    get(y),
    op.i32ltU,
    op.return,
    op.end,
    addTo(a, 1),
    addTo(b, 1),
    get(a),
    get(end),
    op.i32ne,
    op.brIf(0),
    op.end,
    i32c(0),
  );
  return { locals: [[3, I32]] as [number, number][], code };
}

/** hashPair(a, b, out): out = keccak256(min(a, b) ++ max(a, b)), the OZ commutative node hash. */
function hashPairBody() {
  const [a, b, out, t] = [0, 1, 2, 3];
  const code = flat(
    get(b),
    get(a),
    call(FN.lessThan),
    op.if,
    get(a),
    set(t),
    get(b),
    set(a),
    get(t),
    set(b),
    op.end,
    ...[0, 1, 2, 3].map((k) => setLane(k, flat(get(a), load64(8 * k)))),
    ...[0, 1, 2, 3].map((k) => setLane(4 + k, flat(get(b), load64(8 * k)))),
    padAfter(8),
    call(FN.permute),
    squeeze(out),
  );
  return { locals: [[1, I32]] as [number, number][], code };
}

/**
 * hashLeaves(records, out, n): for each 52-byte record (20-byte account, 32-byte big-endian
 * amount) write keccak256(keccak256(abi.encode(account, amount))) to out, 32 bytes apart.
 * The 64-byte abi encoding is 12 zero bytes + record, so its lanes are read straight from the
 * record: lane 1 is the record's first 4 bytes in its high half, lanes 2..7 start 4 bytes into
 * the record. No encoded copy of the leaves is ever made.
 */
function hashLeavesBody() {
  const [records, out, n] = [0, 1, 2];
  const code = flat(
    op.block,
    get(n),
    op.i32eqz,
    op.brIf(0),
    op.loop,
    setLane(0, i64c(0n)),
    setLane(1, flat(get(records), load32u64(0), i64c(32n), op.i64shl)),
    ...[2, 3, 4, 5, 6, 7].map((k) => setLane(k, flat(get(records), load64(8 * k - 12)))),
    padAfter(8),
    call(FN.permute), // lanes 0..3 now hold the inner digest: hash it again
    padAfter(4),
    call(FN.permute),
    squeeze(out),
    addTo(records, 52),
    addTo(out, 32),
    addTo(n, -1),
    get(n),
    op.brIf(0),
    op.end,
    op.end,
  );
  return { locals: [] as [number, number][], code };
}

/**
 * buildTree(tree, n): fill the inner nodes of OZ's array layout (node i has children 2i+1 and
 * 2i+2; the n leaves already sit at indexes n-1..2n-2), from node n-2 down to the root.
 */
function buildTreeBody() {
  const [tree, n, i, left] = [0, 1, 2, 3];
  const code = flat(
    op.block,
    get(n),
    i32c(2),
    op.i32ltU,
    op.brIf(0),
    get(n),
    i32c(2),
    op.i32sub,
    set(i),
    op.loop,
    get(tree),
    get(i),
    i32c(6),
    op.i32shl,
    op.i32add,
    i32c(32),
    op.i32add,
    set(left), // node 2i+1
    get(left),
    get(left),
    i32c(32),
    op.i32add,
    get(tree),
    get(i),
    i32c(5),
    op.i32shl,
    op.i32add,
    call(FN.hashPair),
    get(i),
    op.i32eqz,
    op.brIf(1),
    addTo(i, -1),
    op.br(0),
    op.end,
    op.end,
  );
  return { locals: [[2, I32]] as [number, number][], code };
}

/** sponge(ptr, blocks, out): absorb `blocks` already padded 136-byte blocks, write the digest. */
function spongeBody() {
  const [ptr, blocks, out] = [0, 1, 2];
  const code = flat(
    ...Array.from({ length: 25 }, (_, k) => setLane(k, i64c(0n))),
    op.loop,
    ...Array.from({ length: RATE_LANES }, (_, k) => setLane(k, flat(lane(k), get(ptr), load64(8 * k), op.i64xor))),
    call(FN.permute),
    addTo(ptr, RATE_BYTES),
    addTo(blocks, -1),
    get(blocks),
    op.brIf(0),
    op.end,
    squeeze(out),
  );
  return { locals: [] as [number, number][], code };
}

function assembleModule(): Uint8Array<ArrayBuffer> {
  const types = [
    flat(0x60, vec([]), vec([])), // 0: () -> ()
    flat(0x60, vec([[I32], [I32]]), vec([[I32]])), // 1: (i32, i32) -> i32
    flat(0x60, vec([[I32], [I32], [I32]]), vec([])), // 2: (i32, i32, i32) -> ()
    flat(0x60, vec([[I32], [I32]]), vec([])), // 3: (i32, i32) -> ()
  ];
  const functions = [
    { name: 'permute', type: 0, body: permuteBody() },
    { name: 'lessThan', type: 1, body: lessThanBody() },
    { name: 'hashPair', type: 2, body: hashPairBody() },
    { name: 'hashLeaves', type: 2, body: hashLeavesBody() },
    { name: 'buildTree', type: 3, body: buildTreeBody() },
    { name: 'sponge', type: 2, body: spongeBody() },
  ];
  const memoryImport = flat(name('env'), name('memory'), 0x02, 0x00, uleb(0));
  const exports = functions.map((f, index) => flat(name(f.name), 0x00, uleb(index)));
  const bodies = functions.map(({ body }) => {
    const locals = vec(body.locals.map(([count, type]) => flat(uleb(count), type)));
    const content = flat(locals, body.code, op.end);
    return flat(uleb(content.length), content);
  });
  return new Uint8Array(
    flat(
      [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
      section(1, vec(types)),
      section(2, vec([memoryImport])),
      section(3, vec(functions.map((f) => uleb(f.type)))),
      section(7, vec(exports)),
      section(10, vec(bodies)),
    ),
  );
}

// Compiled once, synchronously: Node has no size limit on synchronous compilation, so the API
// built on it stays synchronous and needs no init call.
const KERNEL_MODULE = new WebAssembly.Module(assembleModule());

// ---------------------------------------------------------------------------------------------
// The JavaScript face of the kernel.
// ---------------------------------------------------------------------------------------------

/** Bytes at the start of every kernel memory that belong to the kernel; caller data starts here. */
export const KERNEL_RESERVED_BYTES = 1024;

/** Fixed scratch addresses for one-off hashes (inside the reserved area). */
export const SCRATCH = { a: 512, b: 544, out: 576, record: 640 } as const;

const PAGE = 65536;

export type Kernel = {
  readonly memory: WebAssembly.Memory;
  /** keccak256(min(a, b) ++ max(a, b)) of the 32-byte nodes at a and b, written to out. */
  hashPair(a: number, b: number, out: number): void;
  /** Leaf hashes of n 52-byte (account, amount) records at `records`, written 32 bytes apart at out. */
  hashLeaves(records: number, out: number, n: number): void;
  /** Inner nodes of the OZ array layout at `tree`, whose n leaves are already in place. */
  buildTree(tree: number, n: number): void;
  /** Digest of `blocks` padded 136-byte blocks at ptr, written to out. */
  sponge(ptr: number, blocks: number, out: number): void;
};

/**
 * A kernel instance with its own memory of at least `bytes` bytes (the first
 * {@link KERNEL_RESERVED_BYTES} of which are the kernel's). Each tree build gets its own, so the
 * memory is freed with the tree rather than kept by a module-wide instance.
 */
export function createKernel(bytes: number): Kernel {
  const pages = Math.ceil(Math.max(bytes, KERNEL_RESERVED_BYTES) / PAGE);
  if (pages > 65536) throw new RangeError(`keccak kernel: ${bytes} bytes exceed the 4 GiB WebAssembly memory`);
  const memory = new WebAssembly.Memory({ initial: pages });
  new BigUint64Array(memory.buffer, RC_AT, 24).set(ROUND_CONSTANTS);
  const instance = new WebAssembly.Instance(KERNEL_MODULE, { env: { memory } });
  const fns = instance.exports as unknown as Omit<Kernel, 'memory'>;
  return {
    memory,
    hashPair: fns.hashPair,
    hashLeaves: fns.hashLeaves,
    buildTree: fns.buildTree,
    sponge: fns.sponge,
  };
}

let scratchKernel: Kernel | undefined;

/** The module-wide kernel for one-off hashes; grown on demand for long inputs. */
export function scratch(bytes = 0): { kernel: Kernel; u8: Uint8Array } {
  scratchKernel ??= createKernel(KERNEL_RESERVED_BYTES);
  const { memory } = scratchKernel;
  const missing = KERNEL_RESERVED_BYTES + bytes - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / PAGE));
  return { kernel: scratchKernel, u8: new Uint8Array(memory.buffer) };
}

/**
 * Keccak-256 (the Ethereum variant, 0x01 padding) of any bytes.
 *
 * @example
 * keccak256Bytes(new TextEncoder().encode('hello'))
 * // Uint8Array(32) [0x1c, 0x8a, 0xff, ...] (0x1c8aff95...36deac8)
 */
export function keccak256Bytes(data: Uint8Array): Uint8Array {
  const blocks = Math.floor(data.length / RATE_BYTES) + 1; // padding always adds at least a byte
  const { kernel, u8 } = scratch(blocks * RATE_BYTES);
  const at = KERNEL_RESERVED_BYTES;
  u8.set(data, at);
  u8.fill(0, at + data.length, at + blocks * RATE_BYTES);
  u8[at + data.length]! ^= 0x01;
  u8[at + blocks * RATE_BYTES - 1]! ^= 0x80;
  kernel.sponge(at, blocks, SCRATCH.out);
  return u8.slice(SCRATCH.out, SCRATCH.out + 32);
}
