// EIP-712 RewardRoot signatures: M-of-N oracle signatures, concatenated in ascending signer order.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hashTypedData, recoverAddress, type Address, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { REWARD_ROOT_TYPES, recoverRootSigners, rewardRootDomain, signRewardRoot, type RewardRootMessage } from '../src/root-signature.ts';

// Anvil's first three well-known development keys (public test keys, never real funds).
const KEYS: Hex[] = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
];
const accounts = KEYS.map((k) => privateKeyToAccount(k));
const CHAIN_ID = 31337;
const DISTRIBUTOR: Address = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512';
const message: RewardRootMessage = {
  epoch: 42n,
  root: `0x${'12'.repeat(32)}`,
  total: 10n ** 21n,
  artifactHash: `0x${'34'.repeat(32)}`,
};
const ascending = [...accounts.map((a) => a.address)].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));

describe('signRewardRoot / recoverRootSigners', () => {
  test('the fixed accounts are in non-ascending order, so sorting is really exercised', () => {
    assert.notDeepEqual(
      accounts.map((a) => a.address),
      ascending,
    );
  });

  test('returns one 65-byte signature per signer, concatenated in ascending signer order', async () => {
    const sigs = await signRewardRoot(accounts, CHAIN_ID, DISTRIBUTOR, message);
    assert.match(sigs, /^0x[0-9a-f]+$/);
    assert.equal((sigs.length - 2) / 2, 65 * 3);
    // Check each chunk independently of recoverRootSigners: hash the typed data with viem and recover.
    const digest = hashTypedData({
      domain: rewardRootDomain(CHAIN_ID, DISTRIBUTOR),
      types: REWARD_ROOT_TYPES,
      primaryType: 'RewardRoot',
      message,
    });
    for (let i = 0; i < 3; i++) {
      const chunk = `0x${sigs.slice(2 + 130 * i, 2 + 130 * (i + 1))}` as Hex;
      assert.equal(await recoverAddress({ hash: digest, signature: chunk }), ascending[i]);
    }
  });

  test('signer order in the input does not matter', async () => {
    const a = await signRewardRoot(accounts, CHAIN_ID, DISTRIBUTOR, message);
    const b = await signRewardRoot([...accounts].reverse(), CHAIN_ID, DISTRIBUTOR, message);
    assert.equal(a, b); // secp256k1 signing in viem is deterministic (RFC 6979)
  });

  test('recoverRootSigners returns the signers in ascending order', async () => {
    const sigs = await signRewardRoot(accounts, CHAIN_ID, DISTRIBUTOR, message);
    const signers = await recoverRootSigners(sigs, CHAIN_ID, DISTRIBUTOR, message);
    assert.deepEqual(signers, ascending);
    for (let i = 1; i < signers.length; i++) assert.ok(BigInt(signers[i - 1]!) < BigInt(signers[i]!));
  });

  test('one signer, and no signers', async () => {
    const one = await signRewardRoot([accounts[1]!], CHAIN_ID, DISTRIBUTOR, message);
    assert.equal(one.length, 2 + 130);
    assert.deepEqual(await recoverRootSigners(one, CHAIN_ID, DISTRIBUTOR, message), [accounts[1]!.address]);
    assert.deepEqual(await recoverRootSigners('0x', CHAIN_ID, DISTRIBUTOR, message), []);
  });

  test('a different message, chain or distributor recovers different addresses', async () => {
    const sigs = await signRewardRoot(accounts, CHAIN_ID, DISTRIBUTOR, message);
    const variants: [number, Address, RewardRootMessage][] = [
      [CHAIN_ID, DISTRIBUTOR, { ...message, epoch: 43n }],
      [CHAIN_ID, DISTRIBUTOR, { ...message, total: message.total + 1n }],
      [CHAIN_ID, DISTRIBUTOR, { ...message, root: `0x${'13'.repeat(32)}` }],
      [CHAIN_ID, DISTRIBUTOR, { ...message, artifactHash: `0x${'35'.repeat(32)}` }],
      [1, DISTRIBUTOR, message],
      [CHAIN_ID, '0x0000000000000000000000000000000000000001', message],
    ];
    for (const [chainId, distributor, m] of variants) {
      const recovered = await recoverRootSigners(sigs, chainId, distributor, m);
      assert.equal(recovered.length, 3);
      for (const addr of recovered)
        assert.ok(!ascending.includes(addr), `recovered a real signer for ${chainId} ${distributor} ${m.epoch}`);
    }
  });

  test('a length that is not a multiple of 65 bytes throws', async () => {
    const sigs = await signRewardRoot(accounts, CHAIN_ID, DISTRIBUTOR, message);
    await assert.rejects(recoverRootSigners(sigs.slice(0, -2) as Hex, CHAIN_ID, DISTRIBUTOR, message), /65 bytes each/);
    await assert.rejects(recoverRootSigners(`${sigs}00` as Hex, CHAIN_ID, DISTRIBUTOR, message), /65 bytes each/);
  });
});
