// The chain follower: mirrors the registry (registrations, transfers, stakes, slashes, locations),
// credit spends, posted roots and claims into the database. Each batch of blocks and the cursor
// move in one transaction, so a restart resumes exactly where the last batch ended; RPC errors
// are retried with backoff and never lose or double an event.
//
// It is reorg-safe: the hash of every batch's last block is kept. When the chain no longer has
// the cursor's block (a reorg, a rollback, a restored snapshot, an RPC pointed at another node),
// the follower finds the newest kept block the chain still has, removes everything it mirrored
// after it, re-reads the state of the devices that touched, and syncs again from there.
import { parseEventLogs, type Address, type Hex, type PublicClient } from 'viem';
import { DeviceRegistryAbi, RewardDistributorAbi, ServiceCreditsAbi, type Deployment } from '@groundwork/contracts';
import { deviceIdHex } from '@groundwork/protocol';
import type { Database, Queryable } from './db/database.ts';

const EVENTS_ABI = [...DeviceRegistryAbi, ...ServiceCreditsAbi, ...RewardDistributorAbi];
const DEVICE_EVENTS = new Set([
  'DeviceRegistered',
  'LocationAsserted',
  'StakeAdded',
  'UnstakeRequested',
  'UnstakeWithdrawn',
  'DeviceSlashed',
]);

export type FollowerOptions = {
  /** Blocks per getLogs call. */
  batchBlocks?: number;
  pollMs?: number;
  /** Called after a batch that registered or changed devices (in the batch's order). */
  onDevicesChanged?: (devices: Hex[]) => void;
  /** Called after a rewind: the mirror was cut back from `from` to `to` (the common ancestor). */
  onRewind?: (rewind: { from: bigint; to: bigint }) => void;
  log?: (line: string) => void;
};

/** Kept batch-end hashes: the depth of reorg the follower can rewind without re-reading everything. */
const CHECKPOINTS = 10_000;

export class ChainFollower {
  private readonly kinds: Map<string, string>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Last block fully mirrored, and its hash (null for a mirror from before hashes were kept). */
  cursor = -1n;
  cursorHash: Hex | null = null;
  /** Rewinds so far (for /v1/status and tests). */
  rewinds = 0;
  headTime = 0;
  lastError: string | null = null;
  consecutiveErrors = 0;

  constructor(
    private readonly db: Database,
    private readonly client: PublicClient,
    private readonly deployment: Deployment,
    private readonly opts: FollowerOptions = {},
  ) {
    this.kinds = new Map(deployment.networks.map((n) => [n.id.toLowerCase(), n.kind]));
  }

  async init(): Promise<void> {
    const rows = await this.db.query<{ block: string; hash: Hex | null }>("select block, hash from chain_cursor where name = 'follower'");
    this.cursor = rows[0] ? BigInt(rows[0].block) : this.deployment.startBlock - 1n;
    this.cursorHash = rows[0]?.hash ?? null;
  }

  /** Polls until `stop`; errors back off exponentially up to 10 s. */
  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      let delay = this.opts.pollMs ?? 500;
      try {
        await this.syncToHead();
      } catch {
        delay = Math.min(10_000, 250 * 2 ** Math.min(this.consecutiveErrors, 6));
      }
      if (!this.stopped) this.timer = setTimeout(loop, delay);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }

  /** Mirrors every block up to the current head; concurrent callers share one run. */
  syncToHead(): Promise<void> {
    if (!this.running) {
      this.running = this.syncInner().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async syncInner(): Promise<void> {
    try {
      const head = await this.client.getBlock({ blockTag: 'latest' });
      this.headTime = Number(head.timestamp);
      await this.checkCursor(head.number);
      const batch = BigInt(this.opts.batchBlocks ?? 2000);
      while (this.cursor < head.number) {
        const from = this.cursor + 1n;
        const last = from + batch - 1n;
        await this.syncRange(from, head.number < last ? head.number : last);
      }
      this.lastError = null;
      this.consecutiveErrors = 0;
    } catch (err) {
      this.lastError = (err as Error).message.split('\n')[0] ?? 'unknown error';
      this.consecutiveErrors++;
      this.opts.log?.(`follower: ${this.lastError} (retrying)`);
      throw err;
    }
  }

  /** The chain's hash of block `n`, or null if it has no such block. */
  private async hashOf(n: bigint): Promise<Hex | null> {
    if (n < 0n) return null;
    try {
      return (await this.client.getBlock({ blockNumber: n })).hash;
    } catch (err) {
      if ((err as Error).name === 'BlockNotFoundError') return null;
      throw err;
    }
  }

  /** Rewinds the mirror if the chain no longer has the block the cursor names. */
  private async checkCursor(head: bigint): Promise<void> {
    if (this.cursor < this.deployment.startBlock) return; // nothing mirrored yet
    if (this.cursor <= head && this.cursorHash !== null && (await this.hashOf(this.cursor)) === this.cursorHash) return;
    if (this.cursor <= head && this.cursorHash === null) return; // a mirror from before hashes were kept: trusted
    await this.rewind(head);
  }

  /** Cuts the mirror back to the newest kept block the chain still has, and fixes what that touched. */
  private async rewind(head: bigint): Promise<void> {
    const from = this.cursor;
    const kept = await this.db.query<{ number: string; hash: Hex }>(
      'select number::text as number, hash from chain_blocks where number <= $1 order by number desc limit $2',
      [head.toString(), CHECKPOINTS],
    );
    let to = this.deployment.startBlock - 1n;
    let toHash: Hex | null = null;
    for (const k of kept) {
      if ((await this.hashOf(BigInt(k.number))) === k.hash) {
        to = BigInt(k.number);
        toHash = k.hash;
        break;
      }
    }
    const after = to.toString();
    await this.db.transaction(async (tx) => {
      // Devices whose history loses something: their owner and state are re-derived below.
      const touched = await tx.query<{ device: string }>(
        `select device from device_events where block > $1 union select device from device_transfers where block > $1`,
        [after],
      );
      for (const table of ['device_transfers', 'device_events', 'credit_spends', 'claims', 'posted_roots', 'chain_blocks']) {
        await tx.query(`delete from ${table} where ${table === 'chain_blocks' ? 'number' : 'block'} > $1`, [after]);
      }
      await tx.query('delete from devices where registered_block > $1', [after]);
      for (const { device } of touched) {
        const rows = await tx.query('select device from devices where device = $1', [device]);
        if (!rows.length) continue; // registered after the ancestor: gone
        const state = await this.readDevice(BigInt(device), head);
        await tx.query(
          `update devices set
             owner = coalesce((select to_addr from device_transfers where device = $1 order by block desc, log_index desc limit 1), owner),
             slashed = coalesce((select sum((data->>'slashed')::numeric) from device_events where device = $1 and kind = 'DeviceSlashed'), 0),
             stake = $2, unstaking = $3, location = $4
           where device = $1`,
          [device, state.stake.toString(), state.unstaking.toString(), state.location === 0n ? null : state.location.toString(16)],
        );
      }
      await tx.query("update chain_cursor set block = $1, hash = $2 where name = 'follower'", [after, toHash]);
    });
    this.cursor = to;
    this.cursorHash = toHash;
    this.rewinds++;
    this.opts.log?.(`follower: the chain no longer has block ${from} as mirrored; rewound to block ${to} and syncing again`);
    this.opts.onRewind?.({ from, to });
  }

  private async syncRange(from: bigint, to: bigint): Promise<void> {
    const a = this.deployment.addresses;
    // The batch's last block before and after reading its logs: if it changed, a reorg happened
    // meanwhile and the logs may be of either branch, so the batch is read again.
    const before = await this.hashOf(to);
    const raw = await this.client.getLogs({ address: [a.registry, a.credits, a.distributor], fromBlock: from, toBlock: to });
    const logs = parseEventLogs({ abi: EVENTS_ABI, logs: raw, strict: false });
    const times = new Map<bigint, number>();
    const blockTime = async (n: bigint) => {
      if (!times.has(n)) times.set(n, Number((await this.client.getBlock({ blockNumber: n })).timestamp));
      return times.get(n)!;
    };
    // Device state is read from the chain at `to`, so the mirror holds what the contract holds.
    const touched = new Set<bigint>();
    for (const log of logs)
      if (DEVICE_EVENTS.has(log.eventName) && log.address.toLowerCase() === a.registry.toLowerCase())
        touched.add((log.args as { deviceId: bigint }).deviceId);
    const states = new Map<bigint, DeviceState>();
    for (const id of touched) states.set(id, await this.readDevice(id, to));
    // Registrations and spends are stamped with their block's time (read before the transaction).
    for (const log of logs) if (log.eventName === 'DeviceRegistered' || log.eventName === 'CreditsSpent') await blockTime(log.blockNumber!);

    const toHash = await this.hashOf(to);
    if (before === null || toHash !== before) throw new Error(`block ${to} changed while its logs were read (a reorg): reading again`);
    const changed: Hex[] = [];
    await this.db.transaction(async (tx) => {
      for (const log of logs) {
        const at = log.address.toLowerCase();
        const block = log.blockNumber!;
        const index = log.logIndex!;
        const args = log.args as Record<string, unknown>;
        if (at === a.registry.toLowerCase()) {
          if (log.eventName === 'Transfer') {
            const device = deviceIdHex(args.tokenId as bigint);
            await tx.query(
              'insert into device_transfers (block, log_index, device, from_addr, to_addr) values ($1,$2,$3,$4,$5) on conflict do nothing',
              [block.toString(), index, device, (args.from as string).toLowerCase(), (args.to as string).toLowerCase()],
            );
            await tx.query('update devices set owner = $2 where device = $1', [device, (args.to as string).toLowerCase()]);
            changed.push(device);
          } else if (DEVICE_EVENTS.has(log.eventName)) {
            await this.applyDeviceEvent(tx, log.eventName, args, block, index, times.get(block) ?? 0, states.get(args.deviceId as bigint)!);
            changed.push(deviceIdHex(args.deviceId as bigint));
          }
        } else if (at === a.credits.toLowerCase() && log.eventName === 'CreditsSpent') {
          await tx.query(
            'insert into credit_spends (block, log_index, block_time, account, spender, network, device, credits) values ($1,$2,$3,$4,$5,$6,$7,$8) on conflict do nothing',
            [
              block.toString(),
              index,
              ((times.get(block) ?? 0) * 1000).toString(),
              (args.account as string).toLowerCase(),
              (args.spender as string).toLowerCase(),
              this.kinds.get((args.network as string).toLowerCase()) ?? args.network,
              deviceIdHex(args.deviceId as bigint),
              (args.credits as bigint).toString(),
            ],
          );
        } else if (at === a.distributor.toLowerCase()) {
          if (log.eventName === 'RootPosted') {
            await tx.query(
              'insert into posted_roots (epoch, root, total, artifact_hash, block, tx_hash) values ($1,$2,$3,$4,$5,$6) on conflict do nothing',
              [Number(args.epoch), args.root, (args.total as bigint).toString(), args.artifactHash, block.toString(), log.transactionHash],
            );
          } else if (log.eventName === 'Claimed') {
            await tx.query(
              'insert into claims (block, log_index, account, amount, cumulative, root) values ($1,$2,$3,$4,$5,$6) on conflict do nothing',
              [
                block.toString(),
                index,
                (args.account as string).toLowerCase(),
                (args.amount as bigint).toString(),
                (args.cumulativeAmount as bigint).toString(),
                args.root,
              ],
            );
          }
        }
      }
      await tx.query(
        "insert into chain_cursor (name, block, hash) values ('follower', $1, $2) on conflict (name) do update set block = excluded.block, hash = excluded.hash",
        [to.toString(), toHash],
      );
      await tx.query('insert into chain_blocks (number, hash) values ($1, $2) on conflict (number) do update set hash = excluded.hash', [
        to.toString(),
        toHash,
      ]);
      await tx.query('delete from chain_blocks where number < $1', [(to - BigInt(CHECKPOINTS) * 2000n).toString()]);
    });
    this.cursor = to;
    this.cursorHash = toHash;
    if (changed.length) this.opts.onDevicesChanged?.([...new Set(changed)]);
  }

  private async applyDeviceEvent(
    tx: Queryable,
    name: string,
    args: Record<string, unknown>,
    block: bigint,
    index: number,
    time: number,
    state: DeviceState,
  ) {
    const device = deviceIdHex(args.deviceId as bigint);
    const data = Object.fromEntries(Object.entries(args).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]));
    await tx.query('insert into device_events (block, log_index, device, kind, data) values ($1,$2,$3,$4,$5) on conflict do nothing', [
      block.toString(),
      index,
      device,
      name,
      JSON.stringify(data),
    ]);
    if (name === 'DeviceRegistered') {
      await tx.query(
        `insert into devices (device, network, key_x, key_y, owner, stake, registered_at, registered_block)
         values ($1,$2,$3,$4,$5,$6,$7,$8) on conflict (device) do nothing`,
        [
          device,
          this.kinds.get((args.network as string).toLowerCase()) ?? args.network,
          (args.keyX as string).toLowerCase(),
          (args.keyY as string).toLowerCase(),
          (args.owner as string).toLowerCase(),
          (args.stake as bigint).toString(),
          (time * 1000).toString(),
          block.toString(),
        ],
      );
    }
    if (name === 'DeviceSlashed')
      await tx.query('update devices set slashed = slashed + $2 where device = $1', [device, (args.slashed as bigint).toString()]);
    await tx.query('update devices set stake = $2, unstaking = $3, location = $4 where device = $1', [
      device,
      state.stake.toString(),
      state.unstaking.toString(),
      state.location === 0n ? null : state.location.toString(16),
    ]);
  }

  private async readDevice(id: bigint, block: bigint): Promise<DeviceState> {
    const d = (await this.client.readContract({
      address: this.deployment.addresses.registry,
      abi: DeviceRegistryAbi,
      functionName: 'device',
      args: [id],
      blockNumber: block,
    })) as unknown as DeviceState;
    return { stake: BigInt(d.stake), unstaking: BigInt(d.unstaking), location: BigInt(d.location) };
  }
}

type DeviceState = { stake: bigint; unstaking: bigint; location: bigint };

export type { Address };
