// A chain session (public and wallet clients for one key on a deployment's chain) and the
// transactions every party sends the same way: providers, consumers and the devnet.
import { createPublicClient, createWalletClient, http, type Abi, type Address, type Hex, type PublicClient, type WalletClient } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import type { Deployment } from './deploy.ts';
import { GroundworkTokenAbi, ServiceCreditsAbi } from './generated/contracts.ts';

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
  if (receipt.status !== 'success') throw new Error(`${functionName} reverted in ${hash}`);
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
