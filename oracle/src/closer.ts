// Epoch close, one persisted step at a time, so a crash at any point resumes without posting twice
// or changing a root:
//   1. scored   – release the epoch's emission, freeze the inputs (snapshot, reports, challenges,
//                 usage, budgets, prior cumulative), compute, and store inputs + result together;
//   2. artifact – encode the artifact canonically, hash it, store it (and write the file);
//   3. signed   – the quorum's EIP-712 signatures over (epoch, root, total, artifactHash);
//   4. posted   – postRoot, unless the chain already has this epoch's root.
// A result is never recomputed once stored: later steps read it back.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  BaseError,
  ContractFunctionRevertedError,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type WalletClient,
} from 'viem';
import { EmissionsAbi, RewardDistributorAbi, type Deployment } from '@groundwork/contracts';
import {
  ARTIFACT_FORMAT,
  computeEpoch,
  encodeArtifact,
  signRewardRoot,
  type EpochArtifact,
  type EpochClock,
  type EpochInputs,
  type EpochResult,
  type NetworkPlugins,
} from '@groundwork/protocol';
import type { Database } from './db/database.ts';
import type { ChainFollower } from './follower.ts';
import type { OracleMetrics } from './metrics.ts';

export const CLOSE_STEPS = ['scored', 'artifact', 'signed', 'posted'] as const;
export type CloseStep = (typeof CLOSE_STEPS)[number] | 'empty';

export type CloserOptions = {
  db: Database;
  deployment: Deployment;
  client: PublicClient;
  wallet: WalletClient;
  signers: LocalAccount[];
  quorum: number;
  follower: ChainFollower;
  clock: EpochClock;
  plugins: NetworkPlugins;
  parameters: Readonly<Record<string, unknown>>;
  metrics: OracleMetrics;
  /** Ingest keeps taking an epoch's reports this long after its end (ms). */
  graceMs: number;
  /** Directory for artifact files (besides the database), if any. */
  artifactDir?: string;
  /** Test hook: the oracle kills itself right after this step (crash-safety tests). */
  crashAfter?: CloseStep;
  now?: () => number;
  log?: (line: string) => void;
  onClosed?: (epoch: number, state: CloseStep) => void;
};

export class EpochCloser {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly closing = new Set<number>();
  firstEpoch = 0;
  lastError: string | null = null;

  constructor(private readonly o: CloserOptions) {}

  /** The epoch the oracle began with; earlier epochs had no oracle to challenge anyone. */
  async init(): Promise<void> {
    const rows = await this.o.db.query<{ value: string }>("select value from oracle_state where key = 'first_epoch'");
    if (rows[0]) {
      this.firstEpoch = Number(rows[0].value);
    } else {
      this.firstEpoch = this.o.clock.epochAtMs(this.now());
      await this.o.db.query("insert into oracle_state (key, value) values ('first_epoch', $1) on conflict do nothing", [
        String(this.firstEpoch),
      ]);
    }
    for (const r of await this.o.db.query<{ epoch: number }>('select epoch from epochs')) this.closing.add(r.epoch);
  }

  isClosing(epoch: number): boolean {
    return this.closing.has(epoch);
  }

  start(pollMs = 250): void {
    const loop = async () => {
      await this.closeReady().catch(() => {});
      if (this.timer) this.timer = setTimeout(loop, pollMs);
    };
    this.timer = setTimeout(loop, pollMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  /** Closes, in order, every epoch whose report window has passed. */
  closeReady(): Promise<void> {
    if (!this.running) this.running = this.closeReadyInner().finally(() => (this.running = null));
    return this.running;
  }

  private async closeReadyInner(): Promise<void> {
    try {
      for (;;) {
        const next = await this.nextEpoch();
        if (next === null) break;
        const state = await this.closeEpoch(next);
        if (state !== 'posted' && state !== 'empty') break; // waiting on the chain (challenge window)
      }
      this.lastError = null;
    } catch (err) {
      this.lastError = (err as Error).message.split('\n')[0] ?? String(err);
      this.o.log?.(`epoch close: ${this.lastError}`);
      throw err;
    }
  }

  /** The oldest epoch not yet fully closed whose window has passed, or null. */
  private async nextEpoch(): Promise<number | null> {
    const open = await this.o.db.query<{ epoch: number }>(
      "select epoch from epochs where state not in ('posted', 'empty') order by epoch limit 1",
    );
    if (open[0]) return open[0].epoch;
    const last = await this.o.db.query<{ epoch: number }>('select max(epoch) as epoch from epochs');
    const next = last[0]?.epoch == null ? this.firstEpoch : last[0].epoch + 1;
    return this.now() >= this.cutoffMs(next) ? next : null;
  }

  /** When ingest stops taking `epoch`'s reports, plus a second for requests already in flight. */
  cutoffMs(epoch: number): number {
    return this.o.clock.end(epoch) * 1000 + this.o.graceMs + 1000;
  }

  /** Advances `epoch` as far as it can go now; returns its state. */
  async closeEpoch(epoch: number): Promise<CloseStep> {
    let row = await this.row(epoch);
    if (!row) {
      await this.timed('score', () => this.score(epoch));
      row = (await this.row(epoch))!;
      this.crashPoint('scored', row);
    }
    if (row.state === 'scored') {
      await this.timed('artifact', () => this.writeArtifact(epoch, row!));
      row = (await this.row(epoch))!;
      this.crashPoint('artifact', row);
    }
    if (row.state === 'artifact') {
      await this.timed('sign', () => this.sign(epoch, row!));
      row = (await this.row(epoch))!;
      if (row.state === 'signed') this.crashPoint('signed', row);
    }
    if (row.state === 'signed') {
      const posted = await this.timed('post', () => this.post(epoch, row!));
      if (!posted) return 'signed';
      row = (await this.row(epoch))!;
      this.crashPoint('posted', row);
    }
    if (row.state === 'posted' || row.state === 'empty') {
      this.o.metrics.lastClosedEpoch.set(epoch);
      this.o.onClosed?.(epoch, row.state);
    }
    return row.state;
  }

  private async score(epoch: number): Promise<void> {
    // Freeze ingest for this epoch first, then let any write already past its checks land.
    this.closing.add(epoch);
    const inputs = await this.collectInputs(epoch);
    const { result } = computeEpoch(inputs, this.o.plugins);
    await this.o.db.query(
      `insert into epochs (epoch, state, snapshot_block, inputs, result, root, total, updated_at)
       values ($1, 'scored', $2, $3, $4, $5, $6, $7) on conflict (epoch) do nothing`,
      [epoch, inputs.snapshotBlock, JSON.stringify(inputs), JSON.stringify(result), result.root, result.total, this.now()],
    );
    this.o.log?.(
      `epoch ${epoch}: scored ${inputs.networks.reduce((s, n) => s + n.devices.length, 0)} devices, paid ${result.paid}, root ${result.root ?? '(none)'}`,
    );
  }

  /** Everything the epoch's result depends on, read once and stored with it. */
  async collectInputs(epoch: number): Promise<EpochInputs> {
    const { db, deployment, client } = this.o;
    const a = deployment.addresses;
    await this.release(epoch);
    await this.o.follower.syncToHead();
    const snapshotBlock = this.o.follower.cursor;
    const start = this.o.clock.start(epoch);
    const end = this.o.clock.end(epoch);

    const networks: EpochInputs['networks'] = [];
    for (const net of deployment.networks) {
      const plugin = this.o.plugins[net.kind];
      if (!plugin) continue;
      const budget = (await client.readContract({
        address: a.emissions,
        abi: EmissionsAbi,
        functionName: 'networkBudget',
        args: [BigInt(epoch), net.id],
      })) as bigint;
      const devices = await db.query(
        `select d.device, d.network, d.key_x, d.key_y, d.stake::text as stake, d.registered_at,
                coalesce((select t.to_addr from device_transfers t where t.device = d.device and t.block <= $2
                          order by t.block desc, t.log_index desc limit 1), d.owner) as owner
           from devices d where d.network = $1 and d.registered_block <= $2 order by d.device`,
        [net.kind, snapshotBlock.toString()],
      );
      const reports = await db.query(
        'select digest, report, received_at from reports where network = $1 and epoch = $2 order by received_at, digest',
        [net.kind, epoch],
      );
      const challenges = await db.query(
        'select network, device, epoch, nonce, issued_at, deadline from challenges where network = $1 and epoch = $2 order by issued_at, device, nonce',
        [net.kind, epoch],
      );
      const rejections = await db.query(
        'select device, digest, reason, detail from ingest_rejections where network = $1 and epoch = $2 order by id',
        [net.kind, epoch],
      );
      const usage = await db.query(
        `select device, sum(credits)::text as credits from credit_spends
          where network = $1 and block_time >= $2 and block_time < $3 and spender <> $4 group by device order by device`,
        [net.kind, start * 1000, end * 1000, a.registry.toLowerCase()],
      );
      networks.push({
        kind: net.kind,
        id: net.id,
        budget: budget.toString(),
        parameters: this.o.parameters[net.kind],
        devices: devices.map((d) => ({
          device: d.device,
          owner: d.owner,
          network: d.network,
          keyX: d.key_x,
          keyY: d.key_y,
          stake: d.stake,
          registeredAt: Number(d.registered_at),
        })),
        usage: usage.map((u) => ({ device: u.device, credits: u.credits })),
        oracleInputs: challenges.map((c) => ({
          network: c.network,
          device: c.device,
          epoch: c.epoch,
          nonce: c.nonce,
          issuedAt: Number(c.issued_at),
          deadline: Number(c.deadline),
        })),
        reports: reports.map((r) => ({
          report: typeof r.report === 'string' ? JSON.parse(r.report) : r.report,
          digest: r.digest,
          receivedAt: Number(r.received_at),
        })),
        ingestRejections: rejections.map((r) => ({ device: r.device, digest: r.digest, reason: r.reason, detail: r.detail })),
      });
    }

    const priorRow = await db.query<{ epoch: number; result: string }>(
      'select epoch, result from epochs where epoch < $1 order by epoch desc limit 1',
      [epoch],
    );
    const priorResult = priorRow[0] ? (JSON.parse(priorRow[0].result) as EpochResult) : null;
    return {
      format: ARTIFACT_FORMAT,
      chainId: deployment.chainId,
      registry: a.registry,
      distributor: a.distributor,
      epoch,
      start,
      end,
      snapshotBlock: snapshotBlock.toString(),
      networks,
      prior: priorResult
        ? { epoch: priorRow[0]!.epoch, root: priorResult.root, total: priorResult.total, cumulative: priorResult.cumulative }
        : { epoch: null, root: null, total: '0', cumulative: [] },
    };
  }

  /** Mints the epoch's emission if nobody has yet (anyone may call release). */
  private async release(epoch: number): Promise<void> {
    const { client, wallet, deployment } = this.o;
    const released = await client.readContract({
      address: deployment.addresses.emissions,
      abi: EmissionsAbi,
      functionName: 'released',
      args: [BigInt(epoch)],
    });
    if (released) return;
    await this.waitForChainTime(this.o.clock.end(epoch));
    try {
      // 'pending': chains that mine on demand (anvil) date the next block now, not at the last block.
      const { request } = await client.simulateContract({
        account: wallet.account!,
        address: deployment.addresses.emissions,
        abi: EmissionsAbi,
        functionName: 'release',
        args: [BigInt(epoch)],
        blockTag: 'pending',
      });
      const hash = await wallet.writeContract({ ...request, gas: 400_000n });
      await client.waitForTransactionReceipt({ hash });
    } catch (err) {
      if (revertName(err) !== 'EpochAlreadyReleased') throw err;
    }
  }

  private async writeArtifact(epoch: number, row: EpochRow): Promise<void> {
    const artifact: EpochArtifact = { inputs: JSON.parse(row.inputs!), result: JSON.parse(row.result!) };
    const { bytes, hash } = encodeArtifact(artifact);
    const body = Buffer.from(bytes).toString('utf8');
    if (this.o.artifactDir) {
      mkdirSync(this.o.artifactDir, { recursive: true });
      const file = path.join(this.o.artifactDir, `epoch-${epoch}.json`);
      writeFileSync(`${file}.tmp`, bytes);
      renameSync(`${file}.tmp`, file);
    }
    const state: CloseStep = row.root ? 'artifact' : 'empty';
    await this.o.db.transaction(async (tx) => {
      await tx.query('insert into artifacts (hash, epoch, body) values ($1, $2, $3) on conflict do nothing', [hash, epoch, body]);
      await tx.query('update epochs set state = $2, artifact_hash = $3, updated_at = $4 where epoch = $1', [
        epoch,
        state,
        hash,
        this.now(),
      ]);
    });
  }

  private async sign(epoch: number, row: EpochRow): Promise<void> {
    const signers = this.o.signers.slice(0, this.o.quorum);
    const signatures = await signRewardRoot(signers, this.o.deployment.chainId, this.o.deployment.addresses.distributor, {
      epoch: BigInt(epoch),
      root: row.root as Hex,
      total: BigInt(row.total!),
      artifactHash: row.artifact_hash as Hex,
    });
    await this.o.db.query("update epochs set state = 'signed', signatures = $2, updated_at = $3 where epoch = $1", [
      epoch,
      signatures,
      this.now(),
    ]);
  }

  /** Posts the root; false if the chain is not ready for it yet (the last root is in its window). */
  private async post(epoch: number, row: EpochRow): Promise<boolean> {
    const { client, wallet, deployment } = this.o;
    const distributor = deployment.addresses.distributor;
    const latest = (await client.readContract({ address: distributor, abi: RewardDistributorAbi, functionName: 'latestRoot' })) as {
      root: Hex;
      epoch: bigint;
      activeAt: bigint;
    };
    if (BigInt(latest.epoch) >= BigInt(epoch) && latest.root !== `0x${'00'.repeat(32)}`) {
      // Already on chain (posted before a crash): record it, never post again.
      const tx = await this.findPostTx(epoch, row.root as Hex);
      if (!tx) throw new Error(`chain is at epoch ${latest.epoch} but has no root ${row.root} for epoch ${epoch}`);
      await this.o.db.query("update epochs set state = 'posted', tx_hash = $2, updated_at = $3 where epoch = $1", [epoch, tx, this.now()]);
      return true;
    }
    const head = await client.getBlock({ blockTag: 'pending' });
    if (BigInt(latest.activeAt) > head.timestamp) return false;
    const args = [BigInt(epoch), row.root as Hex, BigInt(row.total!), row.artifact_hash as Hex, row.signatures as Hex] as const;
    try {
      const { request } = await client.simulateContract({
        account: wallet.account!,
        address: distributor,
        abi: RewardDistributorAbi,
        functionName: 'postRoot',
        args,
        blockTag: 'pending',
      });
      const hash = await wallet.writeContract({ ...request, gas: 300_000n });
      const receipt = await client.waitForTransactionReceipt({ hash });
      if (receipt.status !== 'success') throw new Error(`postRoot for epoch ${epoch} reverted in ${hash}`);
      await this.o.db.query("update epochs set state = 'posted', tx_hash = $2, updated_at = $3 where epoch = $1", [
        epoch,
        hash,
        this.now(),
      ]);
      this.o.log?.(`epoch ${epoch}: root ${row.root} posted in ${hash}`);
      return true;
    } catch (err) {
      if (revertName(err) === 'LatestRootInChallenge') return false;
      throw err;
    }
  }

  private async findPostTx(epoch: number, root: Hex): Promise<Hex | null> {
    const logs = await this.o.client.getContractEvents({
      address: this.o.deployment.addresses.distributor,
      abi: RewardDistributorAbi,
      eventName: 'RootPosted',
      args: { epoch: BigInt(epoch) },
      fromBlock: this.o.deployment.startBlock,
    });
    const match = logs.find((l) => (l.args as { root: Hex }).root === root);
    return match?.transactionHash ?? null;
  }

  private async waitForChainTime(seconds: number): Promise<void> {
    for (let i = 0; i < 600; i++) {
      const next = await this.o.client.getBlock({ blockTag: 'pending' });
      if (Number(next.timestamp) >= seconds) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Fires only for epochs with a root, so every step of a real close can be interrupted. */
  private crashPoint(step: CloseStep, row: EpochRow): void {
    if (this.o.crashAfter === step && row.root) {
      this.o.log?.(`crash hook: killing the oracle after step "${step}"`);
      process.kill(process.pid, 'SIGKILL');
    }
  }

  private async timed<T>(step: string, fn: () => Promise<T>): Promise<T> {
    const end = this.o.metrics.epochCloseSeconds.startTimer({ step });
    try {
      return await fn();
    } finally {
      end();
    }
  }

  private async row(epoch: number): Promise<EpochRow | null> {
    const rows = await this.o.db.query<EpochRow>(
      'select epoch, state, inputs, result, root, total::text as total, artifact_hash, signatures, tx_hash from epochs where epoch = $1',
      [epoch],
    );
    return rows[0] ?? null;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

type EpochRow = {
  epoch: number;
  state: CloseStep;
  inputs: string | null;
  result: string | null;
  root: string | null;
  total: string | null;
  artifact_hash: string | null;
  signatures: string | null;
  tx_hash: string | null;
};

export function revertName(err: unknown): string | undefined {
  const revert = err instanceof BaseError ? err.walk((e) => e instanceof ContractFunctionRevertedError) : null;
  return revert instanceof ContractFunctionRevertedError ? revert.data?.errorName : undefined;
}

export type { Address };
