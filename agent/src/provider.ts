// What a provider (or consumer) does on chain: buy credits, register a device with its stake and
// fee, read rewards from the oracle and claim them. Each is a plain function of (client, params).
import type { KeyObject } from 'node:crypto';
import type { Abi, Address, Hex } from 'viem';
import {
  type ChainSession,
  buyCredits,
  sendContract as send,
  DeviceRegistryAbi,
  GroundworkTokenAbi,
  RewardDistributorAbi,
  ServiceCreditsAbi,
  networkId,
} from '@groundwork/contracts';
import { deviceIdHex, deviceIdOf, devicePublicKey, signP256 } from '@groundwork/protocol';

export { type ChainSession, buyCredits, chainSession } from '@groundwork/contracts';

export type RegisterResult = { device: Hex; deviceId: bigint; tx: Hex; fee: bigint; stake: bigint; creditsBought: bigint };

/**
 * Registers the device key under the session's account: buys the onboarding (and location) fee in
 * credits if the balance is short, approves the registry to spend them and to take the stake, and
 * sends `register` with the device's P-256 signature over the EIP-712 registration digest.
 */
export async function registerDevice(
  s: ChainSession,
  p: { key: KeyObject; network: string; stake?: bigint; location?: bigint },
): Promise<RegisterResult> {
  const a = s.deployment.addresses;
  const read = (address: Address, abi: Abi, functionName: string, args: readonly unknown[] = []) =>
    s.client.readContract({ address, abi, functionName, args } as never) as Promise<unknown>;
  const pub = devicePublicKey(p.key);
  const deviceId = deviceIdOf(pub);
  const net = networkId(p.network);
  const owner = await read(a.registry, DeviceRegistryAbi as Abi, 'ownerOf', [deviceId]).catch(() => null);
  if (owner) throw new Error(`device ${deviceIdHex(deviceId)} is already registered to ${owner}`);
  const [onboardingFee, locationFee, minStake] = (await Promise.all([
    read(a.registry, DeviceRegistryAbi as Abi, 'onboardingFee'),
    read(a.registry, DeviceRegistryAbi as Abi, 'locationFee'),
    read(a.registry, DeviceRegistryAbi as Abi, 'minStake'),
  ])) as bigint[];
  const stake = p.stake ?? minStake!;
  const fee = onboardingFee! + (p.location ? locationFee! : 0n);
  const creditsBought = await creditsForRegistry(s, fee);
  await send(s, a.token, GroundworkTokenAbi as Abi, 'approve', [a.registry, stake]);
  const nonce = (await read(a.registry, DeviceRegistryAbi as Abi, 'nonces', [deviceId])) as bigint;
  const digest = (await read(a.registry, DeviceRegistryAbi as Abi, 'registrationDigest', [s.account.address, net, nonce])) as Hex;
  const sig = signP256(p.key, digest);
  const tx = await send(s, a.registry, DeviceRegistryAbi as Abi, 'register', [net, pub.x, pub.y, p.location ?? 0n, stake, sig.r, sig.s]);
  return { device: deviceIdHex(deviceId), deviceId, tx, fee, stake, creditsBought };
}

/** Buys what the owner lacks of a registry fee in credits and lets the registry spend the fee; returns the credits bought. */
async function creditsForRegistry(s: ChainSession, fee: bigint): Promise<bigint> {
  const a = s.deployment.addresses;
  const balance = (await s.client.readContract({
    address: a.credits,
    abi: ServiceCreditsAbi,
    functionName: 'balanceOf',
    args: [s.account.address],
  })) as bigint;
  const bought = balance < fee ? (await buyCredits(s, fee - balance)).credits : 0n;
  if (fee > 0n) await send(s, a.credits, ServiceCreditsAbi as Abi, 'approveSpender', [a.registry, fee]);
  return bought;
}

/**
 * Asserts (or moves) a registered device's H3 location: buys the location fee in credits if the
 * owner has too few, lets the registry spend them, and sends `assertLocation` (Helium: every assert
 * pays the fee). Only the device's owner can.
 */
export async function assertLocation(
  s: ChainSession,
  p: { device: Hex; location: bigint },
): Promise<{ tx: Hex; fee: bigint; creditsBought: bigint }> {
  const a = s.deployment.addresses;
  const read = (address: Address, abi: Abi, functionName: string, args: readonly unknown[] = []) =>
    s.client.readContract({ address, abi, functionName, args } as never) as Promise<unknown>;
  const owner = (await read(a.registry, DeviceRegistryAbi as Abi, 'ownerOf', [BigInt(p.device)]).catch(() => null)) as Address | null;
  if (!owner) throw new Error(`device ${p.device} is not registered`);
  if (owner.toLowerCase() !== s.account.address.toLowerCase())
    throw new Error(`device ${p.device} belongs to ${owner}, not ${s.account.address}`);
  const fee = (await read(a.registry, DeviceRegistryAbi as Abi, 'locationFee')) as bigint;
  const creditsBought = await creditsForRegistry(s, fee);
  const tx = await send(s, a.registry, DeviceRegistryAbi as Abi, 'assertLocation', [BigInt(p.device), p.location]);
  return { tx, fee, creditsBought };
}

export type RewardsView = {
  account: Address;
  latestEpoch: number | null;
  latestCumulative: string;
  claimed: string;
  claim: { epoch: number; root: Hex; cumulativeAmount: string; proof: Hex[]; claimable: string } | null;
};

/** The oracle's view of an account's rewards, with a proof against the claimable root. */
export async function fetchRewards(oracleUrl: string, account: Address): Promise<RewardsView> {
  const res = await fetch(`${oracleUrl}/v1/rewards/${account}`);
  const body = (await res.json()) as RewardsView & { error?: string; detail?: string };
  if (!res.ok) throw new Error(`oracle: ${body.error}: ${body.detail}`);
  return body;
}

/** Claims what the claimable root owes the session's account; null if nothing is due. */
export async function claimRewards(s: ChainSession, oracleUrl: string): Promise<{ amount: bigint; tx: Hex; epoch: number } | null> {
  const view = await fetchRewards(oracleUrl, s.account.address);
  if (!view.claim || BigInt(view.claim.claimable) === 0n) return null;
  const tx = await send(s, s.deployment.addresses.distributor, RewardDistributorAbi as Abi, 'claim', [
    s.account.address,
    BigInt(view.claim.cumulativeAmount),
    view.claim.root,
    view.claim.proof,
  ]);
  return { amount: BigInt(view.claim.claimable), tx, epoch: view.claim.epoch };
}
