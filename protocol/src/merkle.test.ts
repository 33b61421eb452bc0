import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { bytesToHex, getAddress, keccak256 } from 'viem';
import { seededRandom } from './random.ts';
import { keccak256Bytes, RewardTree, RewardTreeError, rewardLeafHash, verifyRewardProof, type RewardLeaf } from './merkle.ts';

const ENCODING = ['address', 'uint256'];
const MAX_UINT256 = (1n << 256n) - 1n;

function randomBytes(next: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => next() & 0xff);
}

/** Random accounts, some checksummed; amounts include 0, 2^256 - 1 and every width between. */
function randomLeaves(n: number, seed: number): RewardLeaf[] {
  const next = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const lower = bytesToHex(randomBytes(next, 20));
    const account = i % 4 === 1 ? getAddress(lower) : lower;
    const amount = i % 7 === 0 ? 0n : i % 7 === 1 ? MAX_UINT256 : BigInt(bytesToHex(randomBytes(next, 1 + (next() % 32))));
    return { account, amount };
  });
}

const ozTree = (leaves: RewardLeaf[]) =>
  StandardMerkleTree.of(
    leaves.map((leaf) => [leaf.account, leaf.amount]),
    ENCODING,
  );

const ozVerify = (root: string, leaf: RewardLeaf, proof: string[]) =>
  StandardMerkleTree.verify(root, ENCODING, [leaf.account, leaf.amount], proof);

describe('keccak256Bytes', () => {
  it('matches viem keccak256 for every length across three blocks', () => {
    const next = seededRandom(7);
    for (let length = 0; length <= 3 * 136 + 1; length++) {
      const data = randomBytes(next, length);
      assert.equal(bytesToHex(keccak256Bytes(data)), keccak256(data), `length ${length}`);
    }
  });
});

describe('RewardTree matches StandardMerkleTree.of(values, ["address", "uint256"])', () => {
  for (const n of [1, 2, 3, 4, 5, 7, 8, 33, 1000]) {
    it(`${n} leaves: same root, same proof and leaf hash for every leaf`, () => {
      const leaves = randomLeaves(n, n);
      const tree = RewardTree.of(leaves);
      const oz = ozTree(leaves);
      assert.equal(tree.root, oz.root);
      assert.equal(tree.length, n);
      for (let i = 0; i < n; i++) {
        const leaf = leaves[i]!;
        const proof = tree.proof(i);
        assert.deepEqual(proof, oz.getProof(i), `proof ${i}`);
        assert.equal(tree.leafHash(i), oz.leafHash([leaf.account, leaf.amount]), `leaf hash ${i}`);
        assert.equal(rewardLeafHash(leaf), tree.leafHash(i));
        assert.ok(verifyRewardProof(tree.root, leaf, proof), `verifyRewardProof ${i}`);
        assert.ok(ozVerify(tree.root, leaf, proof), `StandardMerkleTree.verify ${i}`);
      }
    });
  }

  it('leaves whose hashes share their first 4 bytes still sort by the whole hash', () => {
    // Found by search: (account n, amount 1) for these n have leaf hashes sharing 4 (10059 and
    // 264627: 5) leading bytes, and each pair's first has the larger hash, so the radix sort on
    // 32 bits alone would get them wrong.
    const pairs = [72708, 79011, 87771, 147672, 289497, 383224, 10059, 264627];
    const leaves = [
      ...pairs.map((n) => ({ account: `0x${n.toString(16).padStart(40, '0')}` as const, amount: 1n })),
      ...randomLeaves(9, 17),
    ];
    const tree = RewardTree.of(leaves);
    const oz = ozTree(leaves);
    assert.equal(tree.leafHash(0).slice(0, 10), tree.leafHash(1).slice(0, 10));
    assert.equal(tree.root, oz.root);
    leaves.forEach((_, i) => {
      assert.deepEqual(tree.proof(i), oz.getProof(i));
    });
  });

  it('a single leaf is its own root, with an empty proof', () => {
    const [leaf] = randomLeaves(1, 99);
    const tree = RewardTree.of([leaf!]);
    assert.equal(tree.root, tree.leafHash(0));
    assert.deepEqual(tree.proof(0), []);
    assert.ok(verifyRewardProof(tree.root, leaf!, []));
  });

  it('the letter case of accounts does not change the tree', () => {
    const leaves = randomLeaves(20, 3);
    const lower = leaves.map((leaf) => ({ ...leaf, account: leaf.account.toLowerCase() as `0x${string}` }));
    const checksummed = leaves.map((leaf) => ({ ...leaf, account: getAddress(leaf.account) }));
    assert.equal(RewardTree.of(lower).root, RewardTree.of(checksummed).root);
  });
});

describe('RewardTree lookups', () => {
  const leaves = randomLeaves(33, 5);
  const tree = RewardTree.of(leaves);

  it('leaf(i) returns the input leaf, account checksummed', () => {
    for (let i = 0; i < leaves.length; i++) {
      assert.deepEqual(tree.leaf(i), { account: getAddress(leaves[i]!.account), amount: leaves[i]!.amount });
    }
  });

  it('proofFor finds an account in any case, and misses unknown accounts', () => {
    for (let i = 0; i < leaves.length; i++) {
      const { account, amount } = leaves[i]!;
      const expected = { amount, proof: tree.proof(i) };
      assert.deepEqual(tree.proofFor(account.toLowerCase() as `0x${string}`), expected);
      assert.deepEqual(tree.proofFor(`0x${account.slice(2).toUpperCase()}`), expected);
    }
    assert.equal(tree.proofFor(`0x${'00'.repeat(20)}`), undefined);
    assert.throws(() => tree.proofFor('0x1234'), RewardTreeError);
  });

  it('refuses leaf indexes out of range', () => {
    for (const i of [-1, 33, 1.5, Number.NaN]) {
      assert.throws(() => tree.proof(i), RangeError);
      assert.throws(() => tree.leaf(i), RangeError);
      assert.throws(() => tree.leafHash(i), RangeError);
    }
  });
});

describe('verifyRewardProof', () => {
  const leaves = randomLeaves(8, 11);
  const tree = RewardTree.of(leaves);
  const leaf = leaves[3]!;
  const proof = tree.proof(3);

  it('fails for a tampered amount, proof, account or root (as StandardMerkleTree.verify does)', () => {
    const tampered: [RewardLeaf, `0x${string}`[], `0x${string}`][] = [
      [{ ...leaf, amount: leaf.amount + 1n }, proof, tree.root],
      [leaf, [...proof.slice(0, -1), tree.leafHash(0)], tree.root],
      [leaf, proof.slice(1), tree.root],
      [{ ...leaf, account: leaves[4]!.account }, proof, tree.root],
      [leaf, proof, tree.leafHash(3)],
    ];
    for (const [badLeaf, badProof, root] of tampered) {
      assert.equal(verifyRewardProof(root, badLeaf, badProof), false);
      assert.equal(ozVerify(root, badLeaf, badProof), false);
    }
  });

  it('accepts an uppercase root and proof', () => {
    const upper = (hex: string) => `0x${hex.slice(2).toUpperCase()}` as const;
    assert.ok(verifyRewardProof(upper(tree.root), leaf, proof.map(upper)));
  });

  it('throws for a malformed proof element or root', () => {
    assert.throws(() => verifyRewardProof(tree.root, leaf, ['0x1234']), /proof\[0\] is not 32 bytes/);
    assert.throws(() => verifyRewardProof('0x', leaf, proof), /root is not 32 bytes/);
  });
});

describe('RewardTree.of refuses bad input', () => {
  const good = randomLeaves(3, 21);
  const withLeaf = (leaf: unknown, at = 1) => good.map((g, i) => (i === at ? leaf : g)) as RewardLeaf[];
  const refuses = (leaves: RewardLeaf[], message: RegExp) => assert.throws(() => RewardTree.of(leaves), message);

  it('an empty list', () => {
    refuses([], /at least one leaf/);
    assert.throws(() => RewardTree.of([]), RewardTreeError);
  });

  it('a duplicate account, whatever its case, naming both leaves', () => {
    const again = { account: good[0]!.account.toUpperCase().replace('0X', '0x') as `0x${string}`, amount: 5n };
    refuses(withLeaf(again, 2), /leaves\[2\]\.account .* is already leaves\[0\]; .*one leaf per account/);
  });

  it('an invalid address, naming the leaf', () => {
    const bad = ['0x1234', `0x${'zz'.repeat(20)}`, `${'ab'.repeat(21)}`, `0X${'ab'.repeat(20)}`, 42, undefined];
    for (const account of bad) {
      refuses(withLeaf({ account, amount: 1n }), /leaves\[1\]\.account is not an address/);
    }
    refuses(withLeaf(null), /leaves\[1\] is not an \{ account, amount \} object/);
  });

  it('a negative, too large or non-bigint amount, naming the leaf', () => {
    const account = good[1]!.account;
    refuses(withLeaf({ account, amount: -1n }), /leaves\[1\]\.amount -1 is outside uint256/);
    refuses(withLeaf({ account, amount: 1n << 256n }), /leaves\[1\]\.amount \d+ is outside uint256/);
    refuses(withLeaf({ account, amount: 5 }), /leaves\[1\]\.amount must be a bigint/);
  });

  it('accepts every uint256 width, 0 and 2^256 - 1 included', () => {
    const amounts = [0n, 1n, (1n << 64n) - 1n, 1n << 64n, (1n << 128n) - 1n, 1n << 128n, 1n << 192n, MAX_UINT256];
    const leaves = randomLeaves(amounts.length, 31).map((leaf, i) => ({ ...leaf, amount: amounts[i]! }));
    const tree = RewardTree.of(leaves);
    assert.equal(tree.root, ozTree(leaves).root);
    assert.deepEqual(
      leaves.map((_, i) => tree.leaf(i).amount),
      amounts,
    );
  });

  it('rewardLeafHash and verifyRewardProof refuse a bad leaf too', () => {
    assert.throws(() => rewardLeafHash({ account: '0x12', amount: 1n }), /rewardLeafHash: leaf\.account/);
    const negative = { account: good[0]!.account, amount: -2n };
    assert.throws(() => verifyRewardProof(RewardTree.of(good).root, negative, []), /amount -2/);
  });
});
