// A chain session (public and wallet clients for one key on a deployment's chain) and the
// transactions every party sends the same way: providers, consumers and the devnet.
import {
  createPublicClient,
  createWalletClient,
  http,
  type Abi,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type WalletClient,
} from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import type { Deployment } from './deploy.ts';
import { CreditEscrowAbi, GroundworkTokenAbi, ServiceCreditsAbi, StorageDealsAbi } from './generated/contracts.ts';
import { type DealSettlementMessage, type SettlementMessage, signDealSettlement, signSettlement } from './market-signatures.ts';

export type ChainSession = { deployment: Deployment; client: PublicClient; wallet: WalletClient; account: PrivateKeyAccount };

/** Public and wallet clients for `privateKey` on the deployment's chain. */
export function chainSession(rpcUrl: string, deployment: Deployment, privateKey: Hex): ChainSession {
  const account = privateKeyToAccount(privateKey);
  const client = createPublicClient({ transport: http(rpcUrl) }) as PublicClient;
  const wallet = createWalletClient({ account, transport: http(rpcUrl) });
  return { deployment, client, wallet, account };
}

/** Simulates, sends and waits for one transaction; throws if it reverted. */
export async function sendContract(
  s: ChainSession,
  address: Address,
  abi: Abi,
  functionName: string,
  args: readonly unknown[],
): Promise<Hex> {
  // Simulated against the pending block: chains that mine on demand date it now.
  const { request } = await s.client.simulateContract({
    account: s.account,
    address,
    abi,
    functionName,
    args,
    blockTag: 'pending',
  } as never);
  const hash = await s.wallet.writeContract({ ...(request as object), gas: 1_000_000n } as never);
  const receipt = await s.client.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success') throw new TransactionReverted(functionName, hash);
  return hash;
}

/** A transaction that was mined and reverted. */
export class TransactionReverted extends Error {
  constructor(
    readonly functionName: string,
    readonly hash: Hex,
  ) {
    super(`${functionName} reverted in ${hash}`);
    this.name = 'TransactionReverted';
  }
}

/** The oracle's side of the chain: its clients and the quorum keys this process holds. */
export type QuorumChain = { chainId: number; client: PublicClient; wallet: WalletClient; signers: readonly LocalAccount[]; quorum: number };

/** A numbered settlement of a job's escrow (CreditEscrow) or of a storage deal (StorageDeals). */
export type SettlementTarget = { escrow: Address; message: SettlementMessage } | { deals: Address; message: DealSettlementMessage };

const sending = new Map<string, Promise<unknown>>();

/**
 * Runs `send` after every earlier send from `account` in this process has been handed to the node:
 * each then reads a nonce that counts the others, so services settling from one key never collide.
 */
function oneAtATime<T>(account: string, send: () => Promise<T>): Promise<T> {
  const run = (sending.get(account) ?? Promise.resolve()).catch(() => {}).then(send);
  sending.set(account, run);
  return run;
}

/**
 * Signs `to.message` with the quorum, sends it from `sender` and waits for its receipt; throws if
 * it reverted. The oracle's services settle jobs and deals this one way.
 */
export async function sendSettlement(chain: QuorumChain, sender: LocalAccount, to: SettlementTarget): Promise<Hex> {
  const signers = chain.signers.slice(0, chain.quorum);
  const m = to.message;
  const [address, abi, id, what, signatures] =
    'escrow' in to
      ? ([
          to.escrow,
          CreditEscrowAbi,
          to.message.jobId,
          'job',
          await signSettlement(signers, chain.chainId, to.escrow, to.message),
        ] as const)
      : ([
          to.deals,
          StorageDealsAbi,
          to.message.dealId,
          'deal',
          await signDealSettlement(signers, chain.chainId, to.deals, to.message),
        ] as const);
  const hash = await oneAtATime(sender.address, () =>
    chain.wallet.writeContract({
      account: sender,
      chain: null,
      address,
      abi,
      functionName: 'settle',
      args: [id, m.seq, m.deviceIds, m.amounts, m.isFinal, signatures],
    } as never),
  );
  const receipt = await chain.client.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success') throw new Error(`settlement ${m.seq} of ${what} ${id} reverted (${hash})`);
  return hash;
}

/**
 * Burns token for at least `credits` service credits (rounded up to whole tokens' worth), allowing
 * 1% slippage. Returns the credits minted.
 */
export async function buyCredits(
  s: ChainSession,
  credits: bigint,
  to: Address = s.account.address,
): Promise<{ tokens: bigint; credits: bigint; tx: Hex }> {
  if (credits <= 0n) throw new RangeError('credits must be positive');
  const a = s.deployment.addresses;
  const tokens = (await s.client.readContract({
    address: a.credits,
    abi: ServiceCreditsAbi,
    functionName: 'quoteTokens',
    args: [credits],
  })) as bigint;
  const balance = (await s.client.readContract({
    address: a.token,
    abi: GroundworkTokenAbi,
    functionName: 'balanceOf',
    args: [s.account.address],
  })) as bigint;
  if (balance < tokens) throw new Error(`buying ${credits} credits needs ${tokens} token units; ${s.account.address} has ${balance}`);
  await sendContract(s, a.token, GroundworkTokenAbi, 'approve', [a.credits, tokens]);
  const before = (await s.client.readContract({
    address: a.credits,
    abi: ServiceCreditsAbi,
    functionName: 'balanceOf',
    args: [to],
  })) as bigint;
  const tx = await sendContract(s, a.credits, ServiceCreditsAbi, 'mint', [to, tokens, (credits * 99n) / 100n]);
  const after = (await s.client.readContract({
    address: a.credits,
    abi: ServiceCreditsAbi,
    functionName: 'balanceOf',
    args: [to],
  })) as bigint;
  return { tokens, credits: after - before, tx };
}
