/**
 * The reward Merkle tree: one leaf per account, `(address account, uint256 cumulativeAmount)`,
 * built exactly as `StandardMerkleTree.of(values, ['address', 'uint256'])` from
 * `@openzeppelin/merkle-tree` builds it (same root, same proofs), which is what the on-chain
 * distributor verifies against:
 *
 * - leaf = keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
 * - leaves sorted by hash, ascending as 256-bit big-endian numbers;
 * - OZ's array layout: the k-th smallest leaf at index 2n-2-k, node i with children 2i+1, 2i+2;
 * - inner node = keccak256 of its two children in ascending order (commutative).
 *
 * The library keeps every node as a hex string in a JavaScript array and hashes with a
 * JavaScript Keccak, which takes minutes and gigabytes for a million leaves. Here the leaves
 * are encoded straight into bytes, every hash runs in a WebAssembly kernel (./keccak-wasm.ts),
 * the nodes live in one flat byte array (32 bytes each) and leaves are ordered by a radix sort
 * on their first four bytes. Hex strings are only made for what a caller asks for.
 */
import { sortRecords, toHex, writeHex } from './bytes.ts';
import { createKernel, KERNEL_RESERVED_BYTES, keccak256Bytes, scratch, SCRATCH, type Kernel } from './keccak-wasm.ts';

export { keccak256Bytes } from './keccak-wasm.ts';

export type RewardLeaf = { account: `0x${string}`; amount: bigint };

/** Thrown for input the tree refuses: no leaves, a malformed account or amount, a duplicate account. */
export class RewardTreeError extends Error {
  override name = 'RewardTreeError';
}

const RECORD_BYTES = 52; // a leaf as the kernel reads it: 20-byte account, then the amount as 32 bytes big-endian
const NODE_BYTES = 32;
const MAX_UINT256 = (1n << 256n) - 1n;

// ---------------------------------------------------------------------------------------------
// Hex and leaf encoding, written to be cheap enough for a loop over a million leaves.
// ---------------------------------------------------------------------------------------------

/**
 * Writes a uint256 big-endian into 32 bytes at `at` that are already zero. setBigUint64 takes
 * its value modulo 2^64, so each limb costs one shift and no masking.
 */
function writeUint256(view: DataView, at: number, value: bigint): void {
  for (let limb = at + 24; value !== 0n; limb -= 8, value >>= 64n) view.setBigUint64(limb, value);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'bigint' ? `${value}n` : String(value);
}

/**
 * Writes a leaf as a 52-byte record at `at` (which must be zero); false if the leaf is not
 * valid, and then {@link leafProblem} says why. Split in two so that the loop over a million
 * leaves runs only cheap checks and builds no strings.
 */
function encodeRecord(leaf: RewardLeaf, bytes: Uint8Array, view: DataView, at: number): boolean {
  if (typeof leaf !== 'object' || leaf === null || !writeHex(leaf.account, 20, bytes, at)) return false;
  const amount = leaf.amount;
  if (typeof amount !== 'bigint' || amount < 0n || amount > MAX_UINT256) return false;
  writeUint256(view, at + 20, amount);
  return true;
}

/** What is wrong with a leaf that {@link encodeRecord} refused, phrased to follow its name. */
function leafProblem(leaf: unknown): string {
  if (typeof leaf !== 'object' || leaf === null) return ` is not an { account, amount } object: ${describe(leaf)}`;
  const { account, amount } = leaf as Record<string, unknown>;
  if (!writeHex(account, 20, new Uint8Array(20), 0)) {
    return `.account is not an address (0x and 40 hex digits): ${describe(account)}`;
  }
  if (typeof amount !== 'bigint') return `.amount must be a bigint, got ${describe(amount)}`;
  return `.amount ${amount} is outside uint256 (0 to 2^256 - 1)`;
}

/** EIP-55 mixed-case form of the 20 account bytes at `at`. */
function checksumAddress(bytes: Uint8Array, at: number): `0x${string}` {
  const lower = toHex(bytes, at, 20).slice(2);
  const hash = keccak256Bytes(new TextEncoder().encode(lower));
  let out = '0x';
  for (let j = 0; j < 40; j++) {
    const nibble = (hash[j >> 1]! >> (j % 2 === 0 ? 4 : 0)) & 0xf;
    out += nibble >= 8 ? lower[j]!.toUpperCase() : lower[j]!;
  }
  return out as `0x${string}`;
}

// ---------------------------------------------------------------------------------------------
// Building blocks of the tree.
// ---------------------------------------------------------------------------------------------

/**
 * Open-addressing hash set over the leaves' 20-byte accounts (5 words each, leaf i at word 5i):
 * finds duplicate accounts while building and answers {@link RewardTree.proofFor} without a
 * Map of a million strings.
 */
class AccountIndex {
  /** Starts every hash, so that nobody can choose accounts that pile up in one run of slots. */
  private static readonly seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
  private readonly slots: Uint32Array; // leaf index + 1; 0 is empty
  private readonly shift: number; // slot = top bits of the hash
  private free = 0; // the empty slot where the last lookup that found nothing stopped

  constructor(
    private readonly words: Uint32Array,
    leaves: number,
  ) {
    const bits = Math.max(1, Math.ceil(Math.log2(2 * leaves))); // at most half full
    this.slots = new Uint32Array(2 ** bits);
    this.shift = 32 - bits;
  }

  /** Adds leaf i; returns the index of an earlier leaf with the same account, or -1. */
  add(i: number): number {
    const found = this.find(this.words, 5 * i);
    if (found >= 0) return found;
    this.slots[this.free] = i + 1;
    return -1;
  }

  /** The leaf whose account is the 5 words at words[at..], or -1. */
  find(words: Uint32Array, at: number): number {
    const mask = this.slots.length - 1;
    let hash = AccountIndex.seed;
    for (let w = 0; w < 5; w++) hash = Math.imul(hash ^ words[at + w]!, 0x9e3779b1);
    for (let slot = hash >>> this.shift; ; slot = (slot + 1) & mask) {
      const held = this.slots[slot]!;
      if (held === 0) {
        this.free = slot;
        return -1;
      }
      if (sameAccount(words, at, this.words, 5 * (held - 1))) return held - 1;
    }
  }
}

function sameAccount(a: Uint32Array, at: number, b: Uint32Array, bt: number): boolean {
  for (let w = 0; w < 5; w++) if (a[at + w] !== b[bt + w]) return false;
  return true;
}

/**
 * Copies the leaf hashes (hashed in input order into the `hashed` slots) into the tree's leaf
 * slots in OZ's order: the k-th smallest goes to node 2n-2-k, that is leaf slot n-1-k. Reads
 * jump around, writes run backwards in order.
 */
function placeSorted(words: Uint32Array, hashedWord: number, leavesWord: number, order: Uint32Array): void {
  const n = order.length;
  for (let k = 0, to = leavesWord + 8 * (n - 1); k < n; k++, to -= 8) {
    const from = hashedWord + 8 * order[k]!;
    for (let w = 0; w < 8; w++) words[to + w] = words[from + w]!;
  }
}

// ---------------------------------------------------------------------------------------------
// Building the tree.
// ---------------------------------------------------------------------------------------------

/** Leaves encoded and hashed per call of the kernel: small enough to stay in cache. */
const CHUNK_LEAVES = 16384;

/**
 * One build, step by step, in one kernel memory laid out as
 *   [kernel's | records of one chunk | 32 spare bytes | the tree's 2n-1 nodes].
 * The leaves are hashed in input order into the spare bytes plus the inner-node area (n slots
 * that the inner nodes overwrite last), then copied in sorted order into the leaf area, so
 * neither the records nor the unsorted hashes need memory of their own. The tree keeps a view
 * of the node area; the rest of the memory is small.
 */
class TreeBuild {
  readonly n: number;
  readonly nodeCount: number;
  /** What the tree keeps of each leaf: the account bytes (for lookups) and the amount. */
  readonly accounts: Uint8Array;
  readonly amounts: bigint[];
  readonly index: AccountIndex;
  private readonly kernel: Kernel;
  private readonly bytes: Uint8Array;
  private readonly words: Uint32Array;
  private readonly chunkAt = KERNEL_RESERVED_BYTES;
  private readonly hashedAt: number;
  private readonly treeAt: number;

  constructor(n: number) {
    this.n = n;
    this.nodeCount = 2 * n - 1;
    this.hashedAt = this.chunkAt + Math.min(n, CHUNK_LEAVES) * RECORD_BYTES;
    this.treeAt = this.hashedAt + NODE_BYTES;
    this.kernel = createKernel(this.treeAt + this.nodeCount * NODE_BYTES);
    this.bytes = new Uint8Array(this.kernel.memory.buffer);
    this.words = new Uint32Array(this.kernel.memory.buffer);
    this.accounts = new Uint8Array(20 * n);
    this.amounts = new Array<bigint>(n);
    this.index = new AccountIndex(new Uint32Array(this.accounts.buffer), n);
  }

  /** Validates, keeps and hashes leaf objects, a chunk at a time. */
  hashLeaves(leaves: readonly RewardLeaf[]): void {
    const accountWords = new Uint32Array(this.accounts.buffer);
    this.hashChunks((i, view, at) => {
      const leaf = leaves[i]!;
      if (!encodeRecord(leaf, this.bytes, view, at)) throw new RewardTreeError(`RewardTree.of: leaves[${i}]${leafProblem(leaf)}`);
      for (let w = 0; w < 5; w++) accountWords[5 * i + w] = this.words[at / 4 + w]!;
      this.amounts[i] = leaf.amount;
      this.addToIndex(i, 'RewardTree.of: leaves', () => leaf.account);
    });
  }

  /** Validates, keeps and hashes leaves given as columns (20 account bytes each, amounts). */
  hashColumns(accounts: Uint8Array, amounts: readonly bigint[]): void {
    this.accounts.set(accounts.subarray(0, 20 * this.n));
    const accountWords = new Uint32Array(this.accounts.buffer);
    this.hashChunks((i, view, at) => {
      const amount = amounts[i];
      if (typeof amount !== 'bigint' || amount < 0n || amount > MAX_UINT256) {
        throw new RewardTreeError(`RewardTree.fromColumns: amounts[${i}]${leafProblem({ account: toHex(accounts, 20 * i, 20), amount })}`);
      }
      for (let w = 0; w < 5; w++) this.words[at / 4 + w] = accountWords[5 * i + w]!; // no subarray object per leaf
      writeUint256(view, at + 20, amount);
      this.amounts[i] = amount;
      this.addToIndex(i, 'RewardTree.fromColumns: leaves', () => toHex(accounts, 20 * i, 20));
    });
  }

  /** Runs `encode` on each leaf, a chunk of zeroed records at a time, and hashes each chunk. */
  private hashChunks(encode: (i: number, view: DataView, at: number) => void): void {
    const view = new DataView(this.bytes.buffer);
    for (let start = 0; start < this.n; start += CHUNK_LEAVES) {
      const count = Math.min(CHUNK_LEAVES, this.n - start);
      this.bytes.fill(0, this.chunkAt, this.chunkAt + count * RECORD_BYTES); // writeUint256 wants zeros
      for (let i = start, at = this.chunkAt; i < start + count; i++, at += RECORD_BYTES) encode(i, view, at);
      this.kernel.hashLeaves(this.chunkAt, this.hashedAt + start * NODE_BYTES, count);
    }
  }

  /** Indexes leaf i's account (already in `accounts`); refuses an account seen before. */
  private addToIndex(i: number, what: string, account: () => string): void {
    const earlier = this.index.add(i);
    if (earlier >= 0) {
      throw new RewardTreeError(
        `${what}[${i}].account ${account()} is already ${what.slice(what.lastIndexOf(' ') + 1)}[${earlier}]; ` +
          'the reward tree has one leaf per account (amounts are cumulative per account)',
      );
    }
  }

  /** Puts the leaf hashes in OZ's sorted order; returns each input leaf's node index. */
  sortLeaves(): Uint32Array {
    const { n, nodeCount } = this;
    // OZ's `sortLeaves` order: ascending as 256-bit numbers.
    const { order, spare: treeIndex } = sortRecords(this.bytes, this.hashedAt, n, NODE_BYTES);
    const leavesAt = this.treeAt + (n - 1) * NODE_BYTES; // node n-1, the first leaf slot
    placeSorted(this.words, this.hashedAt / 4, leavesAt / 4, order);
    for (let k = 0; k < n; k++) treeIndex[order[k]!] = nodeCount - 1 - k;
    return treeIndex;
  }

  /** Hashes the inner nodes; returns all nodes. */
  hashInnerNodes(): Uint8Array {
    this.kernel.buildTree(this.treeAt, this.n);
    return new Uint8Array(this.bytes.buffer, this.treeAt, this.nodeCount * NODE_BYTES);
  }
}

// ---------------------------------------------------------------------------------------------
// The tree.
// ---------------------------------------------------------------------------------------------

/**
 * A reward Merkle tree with the same root and proofs as OpenZeppelin's
 * `StandardMerkleTree.of(leaves.map((l) => [l.account, l.amount]), ['address', 'uint256'])`.
 * Building is synchronous: a million leaves take about 2 s and 120 MB on a small 2-core
 * machine, where the library takes minutes and over a gigabyte.
 *
 * @example
 * import { RewardTree } from '@groundwork/protocol'
 *
 * const tree = RewardTree.of([
 *   { account: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', amount: 10n ** 18n },
 *   { account: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', amount: 5n },
 * ])
 * tree.root // '0x…', what the distributor is given for the epoch
 * tree.proof(0) // ['0x…'], the proof the first account claims with
 */
export class RewardTree {
  /** The Merkle root, lowercase hex. */
  readonly root: `0x${string}`;
  /** The number of leaves. */
  readonly length: number;

  private constructor(
    private readonly nodes: Uint8Array, // 2n-1 nodes, 32 bytes each, OZ's array layout
    private readonly accounts: Uint8Array, // 20 bytes per leaf, input order
    private readonly amounts: readonly bigint[], // input order
    private readonly treeIndex: Uint32Array, // input index -> node index
    private readonly index: AccountIndex,
  ) {
    this.length = treeIndex.length;
    this.root = toHex(nodes, 0, NODE_BYTES);
  }

  /**
   * Validates the leaves and builds the tree. Refuses (with a {@link RewardTreeError} naming
   * the leaf) an empty list, an account that is not `0x` and 40 hex digits (either case;
   * checksums are not checked, as neither OZ nor the chain checks them), an amount that is not
   * a bigint in [0, 2^256), and an account that appears twice: the distributor pays
   * cumulative amounts, one leaf per account.
   *
   * @example
   * const tree = RewardTree.of([{ account: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', amount: 0n }])
   * tree.root === tree.leafHash(0) // true: one leaf is its own root
   */
  static of(leaves: readonly RewardLeaf[]): RewardTree {
    if (!Array.isArray(leaves)) throw new RewardTreeError('RewardTree.of: expected an array of leaves');
    if (leaves.length === 0) throw new RewardTreeError('RewardTree.of: expected at least one leaf, got none');
    const build = new TreeBuild(leaves.length);
    build.hashLeaves(leaves);
    const treeIndex = build.sortLeaves();
    const nodes = build.hashInnerNodes();
    return new RewardTree(nodes, build.accounts, build.amounts, treeIndex, build.index);
  }

  /**
   * The same tree as {@link RewardTree.of}, from leaves given as columns: `accounts` holds 20
   * bytes per leaf, `amounts` the amount of each. What the epoch close uses: a million leaves
   * need no objects and no hex strings. Refuses what `of` refuses, naming the index.
   *
   * @example
   * const r = computeRewardColumns(input)
   * const tree = RewardTree.fromColumns(r.cumulative.accounts, r.cumulative.amounts)
   */
  static fromColumns(accounts: Uint8Array, amounts: readonly bigint[]): RewardTree {
    if (!(accounts instanceof Uint8Array) || !Array.isArray(amounts) || accounts.length !== 20 * amounts.length) {
      throw new RewardTreeError('RewardTree.fromColumns: expected 20 account bytes per amount');
    }
    if (amounts.length === 0) throw new RewardTreeError('RewardTree.fromColumns: expected at least one leaf, got none');
    const build = new TreeBuild(amounts.length);
    build.hashColumns(accounts, amounts);
    const treeIndex = build.sortLeaves();
    const nodes = build.hashInnerNodes();
    return new RewardTree(nodes, build.accounts, build.amounts, treeIndex, build.index);
  }

  /**
   * The leaf at input index i, with the account in EIP-55 checksum case.
   *
   * @example
   * RewardTree.of([{ account: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', amount: 7n }]).leaf(0)
   * // { account: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', amount: 7n }
   */
  leaf(i: number): RewardLeaf {
    this.checkIndex(i);
    return { account: checksumAddress(this.accounts, 20 * i), amount: this.amounts[i]! };
  }

  /**
   * The proof for the leaf at input index i: the sibling hashes from the leaf up to the root,
   * equal to OZ's `getProof(i)`. Empty for a one-leaf tree.
   *
   * @example
   * const proof = tree.proof(3)
   * verifyRewardProof(tree.root, tree.leaf(3), proof) // true
   */
  proof(i: number): `0x${string}`[] {
    this.checkIndex(i);
    const proof: `0x${string}`[] = [];
    for (let node = this.treeIndex[i]!; node > 0; node = (node - 1) >> 1) {
      const sibling = node % 2 === 1 ? node + 1 : node - 1;
      proof.push(toHex(this.nodes, sibling * NODE_BYTES, NODE_BYTES));
    }
    return proof;
  }

  /**
   * The amount and proof for an account, matched in any letter case; undefined if the account
   * has no leaf. Throws if `account` is not an address.
   *
   * @example
   * const claim = tree.proofFor(account)
   * if (claim) await distributor.write.claim([account, claim.amount, tree.root, claim.proof])
   */
  proofFor(account: `0x${string}`): { amount: bigint; proof: `0x${string}`[] } | undefined {
    const query = new Uint8Array(20);
    if (!writeHex(account, 20, query, 0)) {
      throw new RewardTreeError(`proofFor: not an address (0x and 40 hex digits): ${describe(account)}`);
    }
    const i = this.index.find(new Uint32Array(query.buffer), 0);
    return i < 0 ? undefined : { amount: this.amounts[i]!, proof: this.proof(i) };
  }

  /**
   * The leaf hash of the leaf at input index i, as stored in the tree.
   *
   * @example
   * tree.leafHash(0) === rewardLeafHash(tree.leaf(0)) // true
   */
  leafHash(i: number): `0x${string}` {
    this.checkIndex(i);
    return toHex(this.nodes, this.treeIndex[i]! * NODE_BYTES, NODE_BYTES);
  }

  private checkIndex(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`RewardTree: leaf index ${i} is out of range (0 to ${this.length - 1})`);
    }
  }
}

/** Writes a single leaf's record into the scratch kernel and hashes it there. */
function hashLeafInScratch(leaf: RewardLeaf, caller: string, out: number) {
  const { kernel, u8 } = scratch();
  u8.fill(0, SCRATCH.record, SCRATCH.record + RECORD_BYTES);
  if (!encodeRecord(leaf, u8, new DataView(u8.buffer), SCRATCH.record)) {
    throw new RewardTreeError(`${caller}: leaf${leafProblem(leaf)}`);
  }
  kernel.hashLeaves(SCRATCH.record, out, 1);
  return { kernel, u8 };
}

/**
 * The leaf hash the distributor computes for a claim:
 * keccak256(bytes.concat(keccak256(abi.encode(account, amount)))).
 *
 * @example
 * rewardLeafHash({ account: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', amount: 1n })
 * // '0x…' equal to StandardMerkleTree.of([[account, 1n]], ['address', 'uint256']).leafHash([account, 1n])
 */
export function rewardLeafHash(leaf: RewardLeaf): `0x${string}` {
  const { u8 } = hashLeafInScratch(leaf, 'rewardLeafHash', SCRATCH.out);
  return toHex(u8, SCRATCH.out, NODE_BYTES);
}

/**
 * Whether `proof` proves `leaf` under `root`, hashing pairs as OZ and the distributor do.
 * Throws a {@link RewardTreeError} if the leaf, the root or a proof element is malformed
 * (as OZ's `StandardMerkleTree.verify` does); false means well-formed but not proven.
 *
 * @example
 * const tree = RewardTree.of(leaves)
 * verifyRewardProof(tree.root, leaves[2], tree.proof(2)) // true
 * verifyRewardProof(tree.root, { ...leaves[2], amount: leaves[2].amount + 1n }, tree.proof(2)) // false
 */
export function verifyRewardProof(root: `0x${string}`, leaf: RewardLeaf, proof: readonly `0x${string}`[]): boolean {
  const { kernel, u8 } = hashLeafInScratch(leaf, 'verifyRewardProof', SCRATCH.a);
  for (let k = 0; k < proof.length; k++) {
    if (!writeHex(proof[k], NODE_BYTES, u8, SCRATCH.b)) {
      throw new RewardTreeError(`verifyRewardProof: proof[${k}] is not 32 bytes of hex: ${describe(proof[k])}`);
    }
    kernel.hashPair(SCRATCH.a, SCRATCH.b, SCRATCH.a);
  }
  if (!writeHex(root, NODE_BYTES, u8, SCRATCH.b)) {
    throw new RewardTreeError(`verifyRewardProof: root is not 32 bytes of hex: ${describe(root)}`);
  }
  for (let j = 0; j < NODE_BYTES; j++) if (u8[SCRATCH.a + j] !== u8[SCRATCH.b + j]) return false;
  return true;
}
