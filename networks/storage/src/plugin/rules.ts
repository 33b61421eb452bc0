// The storage service's pure rules, tested on their own: where shards go, what a proven shard
// earns in an epoch, and when a file needs repair.
import { keccak256, encodePacked, type Hex } from 'viem';

export type Candidate = { device: string; owner: string; freeBytes: number; reputation: number };

/**
 * Devices for `count` shards of `bytes` each: only devices with the room, none twice, and owners
 * spread (a device of an owner already used is taken only when no other owner has room), best
 * reputation first; ties broken by a draw keyed on the deal, so placements differ across deals
 * but are the same every time for one. Null if fewer than `count` devices have room.
 */
export function placeShards(
  candidates: readonly Candidate[],
  count: number,
  bytes: number,
  deal: Hex,
  exclude: ReadonlySet<string> = new Set(),
  usedOwners: ReadonlyMap<string, number> = new Map(),
): string[] | null {
  const draw = (d: string) => keccak256(encodePacked(['bytes32', 'string'], [deal, d]));
  const pool = candidates
    .filter((c) => c.freeBytes >= bytes && !exclude.has(c.device))
    .sort((a, b) => b.reputation - a.reputation || (draw(a.device) < draw(b.device) ? -1 : 1));
  if (pool.length < count) return null;
  const owners = new Map(usedOwners);
  const chosen: string[] = [];
  while (chosen.length < count) {
    // The next device: the least-used owner first, then reputation, then the draw (pool order).
    let best = -1;
    for (let i = 0; i < pool.length; i++) {
      if (best < 0 || (owners.get(pool[i]!.owner) ?? 0) < (owners.get(pool[best]!.owner) ?? 0)) best = i;
    }
    const [c] = pool.splice(best, 1);
    chosen.push(c!.device);
    owners.set(c!.owner, (owners.get(c!.owner) ?? 0) + 1);
  }
  return chosen;
}

/**
 * Credits one proven shard earns for an epoch: the deal's escrow spread evenly over its duration
 * and its shards, for the part of the epoch the deal was storing ([start, stop) ∩ [from, to)),
 * rounded down. Never more, summed over shards and epochs, than the deal accrued by `to`.
 */
export function shardEpochCredits(
  escrowed: bigint,
  deal: { start: number; end: number; stop: number; shards: number },
  from: number,
  to: number,
): bigint {
  const overlap = Math.max(0, Math.min(to, deal.stop) - Math.max(from, deal.start));
  if (overlap === 0) return 0n;
  return (escrowed * BigInt(overlap)) / (BigInt(deal.end - deal.start) * BigInt(deal.shards));
}

/** Healthy shards at or below which a file is repaired (0 in the parameters: n − 1, any loss). */
export function repairAt(threshold: number, k: number, n: number): number {
  const t = threshold === 0 ? n - 1 : threshold;
  return Math.max(k, Math.min(n - 1, t));
}
