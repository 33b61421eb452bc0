// EIP-712 messages the oracle quorum signs besides reward roots: CreditEscrow settlements and
// SlashOrders orders. Both contracts check M-of-N signatures against the RewardDistributor's
// oracle set in the format postRoot takes: 65-byte signatures concatenated in ascending signer
// order, which `signSorted` produces.
import { signInSignerOrder, splitSignatures } from '@groundwork/protocol';
import { encodeAbiParameters, hashStruct, keccak256, recoverTypedDataAddress, type Address, type Hex, type LocalAccount } from 'viem';

/** Settlement `seq` of an escrowed job: burn `amounts[i]` for device `deviceIds[i]`; refund the rest and close if `isFinal`. */
export type SettlementMessage = {
  jobId: Hex;
  consumer: Address;
  network: Hex;
  /** 1 for a job's first settlement, then one more each time (the contract applies them in order, once). */
  seq: bigint;
  deviceIds: readonly bigint[];
  amounts: readonly bigint[];
  isFinal: boolean;
};

/** Solidity: `Settlement(bytes32 jobId,address consumer,bytes32 network,uint64 seq,uint256[] deviceIds,uint256[] amounts,bool isFinal)`. */
export const SETTLEMENT_TYPES = {
  Settlement: [{ name: 'jobId', type: 'bytes32' }, ...settledFields()],
} as const;

/** What a settlement says after its id, the same for a job (CreditEscrow) and a deal (StorageDeals). */
function settledFields() {
  return [
    { name: 'consumer', type: 'address' },
    { name: 'network', type: 'bytes32' },
    { name: 'seq', type: 'uint64' },
    { name: 'deviceIds', type: 'uint256[]' },
    { name: 'amounts', type: 'uint256[]' },
    { name: 'isFinal', type: 'bool' },
  ] as const;
}

export function creditEscrowDomain(chainId: number, escrow: Address) {
  return { name: 'Groundwork CreditEscrow', version: '1', chainId, verifyingContract: escrow } as const;
}

/** A slash order: slash up to `amount` of the device's stake for the finding of `epoch`. */
export type SlashOrderMessage = {
  epoch: bigint;
  deviceId: bigint;
  amount: bigint;
  /** Hash of the finding's evidence (what the registry's DeviceSlashed event carries). */
  evidenceHash: Hex;
  /** Content hash of the epoch artifact that holds the evidence. */
  artifactHash: Hex;
};

/** Solidity: `SlashOrder(uint64 epoch,uint256 deviceId,uint256 amount,bytes32 evidenceHash,bytes32 artifactHash)`. */
export const SLASH_ORDER_TYPES = {
  SlashOrder: [
    { name: 'epoch', type: 'uint64' },
    { name: 'deviceId', type: 'uint256' },
    { name: 'amount', type: 'uint256' },
    { name: 'evidenceHash', type: 'bytes32' },
    { name: 'artifactHash', type: 'bytes32' },
  ],
} as const;

export function slashOrdersDomain(chainId: number, slashOrders: Address) {
  return { name: 'Groundwork SlashOrders', version: '1', chainId, verifyingContract: slashOrders } as const;
}

/** An order's id on chain (`SlashOrders.orderId`): the EIP-712 struct hash of its fields. */
export function slashOrderId(message: SlashOrderMessage): Hex {
  return hashStruct({ types: SLASH_ORDER_TYPES, primaryType: 'SlashOrder', data: message });
}

/**
 * A job id (CreditEscrow) or deal id (StorageDeals) only `consumer` can open (ids are first come,
 * first served on chain): keccak256 of (consumer, network, nonce), ABI-encoded.
 */
export function escrowJobId(consumer: Address, network: Hex, nonce: bigint): Hex {
  return keccak256(encodeAbiParameters([{ type: 'address' }, { type: 'bytes32' }, { type: 'uint256' }], [consumer, network, nonce]));
}

/** Quorum signatures for `CreditEscrow.settle`. */
export function signSettlement(
  signers: readonly LocalAccount[],
  chainId: number,
  escrow: Address,
  message: SettlementMessage,
): Promise<Hex> {
  const domain = creditEscrowDomain(chainId, escrow);
  const data = { ...message, deviceIds: [...message.deviceIds], amounts: [...message.amounts] };
  return signInSignerOrder(signers, (s) => s.signTypedData!({ domain, types: SETTLEMENT_TYPES, primaryType: 'Settlement', message: data }));
}

/** Solidity (StorageDeals): `DealSettlement(bytes32 dealId,address consumer,bytes32 network,uint64 seq,uint256[] deviceIds,uint256[] amounts,bool isFinal)`. */
export const DEAL_SETTLEMENT_TYPES = {
  DealSettlement: [{ name: 'dealId', type: 'bytes32' }, ...settledFields()],
} as const;

export function storageDealsDomain(chainId: number, deals: Address) {
  return { name: 'Groundwork StorageDeals', version: '1', chainId, verifyingContract: deals } as const;
}

/** Settlement `seq` of a storage deal: what the quorum releases to which devices (the same fields as a job's, by deal id). */
export type DealSettlementMessage = Omit<SettlementMessage, 'jobId'> & { dealId: Hex };

/** Quorum signatures for `StorageDeals.settle`. */
export function signDealSettlement(
  signers: readonly LocalAccount[],
  chainId: number,
  deals: Address,
  message: DealSettlementMessage,
): Promise<Hex> {
  const domain = storageDealsDomain(chainId, deals);
  const data = { ...message, deviceIds: [...message.deviceIds], amounts: [...message.amounts] };
  return signInSignerOrder(signers, (s) =>
    s.signTypedData!({ domain, types: DEAL_SETTLEMENT_TYPES, primaryType: 'DealSettlement', message: data }),
  );
}

/** Quorum signatures for `SlashOrders.propose`. */
export function signSlashOrder(
  signers: readonly LocalAccount[],
  chainId: number,
  slashOrders: Address,
  message: SlashOrderMessage,
): Promise<Hex> {
  const domain = slashOrdersDomain(chainId, slashOrders);
  return signInSignerOrder(signers, (s) => s.signTypedData!({ domain, types: SLASH_ORDER_TYPES, primaryType: 'SlashOrder', message }));
}

/** The signers of concatenated 65-byte settlement signatures, in order (for a quorum member's own checks). */
export async function recoverSettlementSigners(
  signatures: Hex,
  chainId: number,
  escrow: Address,
  message: SettlementMessage,
): Promise<Address[]> {
  const domain = creditEscrowDomain(chainId, escrow);
  const data = { ...message, deviceIds: [...message.deviceIds], amounts: [...message.amounts] };
  return Promise.all(
    splitSignatures(signatures).map((signature) =>
      recoverTypedDataAddress({ domain, types: SETTLEMENT_TYPES, primaryType: 'Settlement', message: data, signature }),
    ),
  );
}
