// EIP-712 RewardRoot signatures, as RewardDistributor.postRoot checks them: M-of-N oracle
// signatures over (epoch, root, total, artifactHash), concatenated in ascending signer order.
import { concat, recoverTypedDataAddress, type Address, type Hex, type LocalAccount } from 'viem';

export type RewardRootMessage = { epoch: bigint; root: Hex; total: bigint; artifactHash: Hex };

export const REWARD_ROOT_TYPES = {
  RewardRoot: [
    { name: 'epoch', type: 'uint64' },
    { name: 'root', type: 'bytes32' },
    { name: 'total', type: 'uint256' },
    { name: 'artifactHash', type: 'bytes32' },
  ],
} as const;

export function rewardRootDomain(chainId: number, distributor: Address) {
  return { name: 'Groundwork RewardDistributor', version: '1', chainId, verifyingContract: distributor } as const;
}

/** Each signer's signature, concatenated in ascending signer order: the format every quorum contract takes. */
export async function signInSignerOrder(signers: readonly LocalAccount[], sign: (signer: LocalAccount) => Promise<Hex>): Promise<Hex> {
  const sorted = [...signers].sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
  return concat(await Promise.all(sorted.map(sign)));
}

/** Concatenated 65-byte signatures, one by one. */
export function splitSignatures(signatures: Hex): Hex[] {
  const raw = signatures.slice(2);
  if (raw.length % 130 !== 0) throw new Error(`signatures must be 65 bytes each, got ${raw.length / 2} bytes`);
  const out: Hex[] = [];
  for (let i = 0; i < raw.length; i += 130) out.push(`0x${raw.slice(i, i + 130)}`);
  return out;
}

/** Signs with each account and returns the signatures concatenated in ascending signer order. */
export async function signRewardRoot(
  signers: readonly LocalAccount[],
  chainId: number,
  distributor: Address,
  message: RewardRootMessage,
): Promise<Hex> {
  const domain = rewardRootDomain(chainId, distributor);
  return signInSignerOrder(signers, (s) => s.signTypedData!({ domain, types: REWARD_ROOT_TYPES, primaryType: 'RewardRoot', message }));
}

/** The signers of concatenated 65-byte signatures, in order. */
export async function recoverRootSigners(
  signatures: Hex,
  chainId: number,
  distributor: Address,
  message: RewardRootMessage,
): Promise<Address[]> {
  const domain = rewardRootDomain(chainId, distributor);
  return Promise.all(
    splitSignatures(signatures).map((signature) =>
      recoverTypedDataAddress({ domain, types: REWARD_ROOT_TYPES, primaryType: 'RewardRoot', message, signature }),
    ),
  );
}
