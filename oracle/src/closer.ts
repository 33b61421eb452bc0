// Epoch close, one persisted step at a time, so a crash at any point resumes without posting twice
// or changing a root:
//   1. artifact – release the epoch's emission, freeze the inputs (snapshot, reports, challenges,
//                 usage, budgets, prior cumulative) as tables, compute, and write the artifact as a
//                 stream (file, synced, renamed); then record it with the root, total, a summary and
//                 the leaves in one transaction. An epoch nobody has ever earned in ends `empty`.
//   2. signed   – the quorum's EIP-712 signatures over (epoch, root, total, artifactHash), and
//                 over each of the epoch's slash orders (stored first);
//   3. posted   – postRoot, unless the chain already has this epoch's root.
// After each round the slash keeper (slashing.ts) proposes the orders of posted epochs and
// executes those past their challenge window; its failures never hold up the roots.
// A result is never recomputed once recorded: later steps read the row back. When the chain lacks
// roots the database says were posted (a rollback, a restored snapshot, a reorg), those epochs go
// back to `signed` and are posted again, in order, with the signatures already made.
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
  compactTables,
  computeEpochTables,
  EpochInputError,
  type EpochTables,
  type EpochClock,
  networkTables,
  type NetworkPlugins,
  signRewardRoot,
} from '@groundwork/protocol';
import type { Database } from './db/database.ts';
import { encodeLeaves, type EpochRow, type EpochState, type EpochStore, summarize } from './epochs.ts';
import { SlashKeeper, slashOrderOf, type SlashStatus } from './slashing.ts';
import type { Row } from './db/database.ts';
import type { ChainFollower } from './follower.ts';
import type { OracleMetrics } from './metrics.ts';

export const CLOSE_STEPS = ['artifact', 'signed', 'posted'] as const;
/** A step the crash test can stop at: the three, and `writing` (half of the artifact on disk). */
export type CloseStep = (typeof CLOSE_STEPS)[number] | 'writing' | 'empty';

/** What stops epochs from closing, for /v1/status and the devnet's console. */
export type CloseBlock = {
  epoch: number;
  step: 'release' | 'artifact' | 'sign' | 'post' | 'reconcile';
  error: string;
  /** What an operator can do about it. */
  hint: string;
  /** Unix ms when it first happened. */
  since: number;
};

export type CloserOptions = {
  db: Database;
  epochs: EpochStore;
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
  /** The chain's RPC URL, for the hints of errors. */
  rpcUrl?: string;
  /** Test hook: the oracle kills itself right after this step (crash-safety tests). */
  crashAfter?: CloseStep;
  now?: () => number;
  log?: (line: string) => void;
  onClosed?: (epoch: number, state: EpochState) => void;
  /** Runs before an epoch's inputs are read (the networks' services record their last inputs for it). */
  beforeCollect?: (epoch: number, snapshotBlock: string) => Promise<void>;
  /** Called when closing becomes blocked (or the block changes), and with null when it clears. */
  onBlocked?: (block: CloseBlock | null) => void;
};

/** Rows per page when reading an epoch's inputs: the database hands back one page of objects at a time. */
const PAGE = 20_000;

class StepError extends Error {
  constructor(
    readonly step: CloseBlock['step'],
    readonly epoch: number,
    readonly reason: unknown,
  ) {
    super((reason as Error)?.message ?? String(reason));
  }
}

export class EpochCloser {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly closing = new Set<number>();
  firstEpoch = 0;
  /** What stops the next epoch from closing, or null. */
  blocked: CloseBlock | null = null;
  /** Proposes and executes the slash orders of closed epochs. */
  readonly slashKeeper: SlashKeeper;

  constructor(private readonly o: CloserOptions) {
    this.slashKeeper = new SlashKeeper({
      db: o.db,
      deployment: o.deployment,
      client: o.client,
      wallet: o.wallet,
      signers: o.signers,
      quorum: o.quorum,
      rpcUrl: o.rpcUrl,
      log: o.log,
      now: o.now,
      describeError: describeChainError,
      revertName,
    });
  }

  /** The slash orders by state, and what stops one from going on (for /v1/status). */
  get slashing(): SlashStatus {
    return this.slashKeeper.status();
  }

  /** The last error's first line (null when closing is not blocked). */
  get lastError(): string | null {
    return this.blocked?.error ?? null;
  }

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
    for (const e of await this.o.epochs.all()) this.closing.add(e);
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
    let failure: unknown = null;
    try {
      await this.reconcile();
      for (;;) {
        const next = await this.nextEpoch();
        if (next === null) break;
        const state = await this.closeEpoch(next);
        if (state !== 'posted' && state !== 'empty') break; // waiting on the chain (challenge window)
      }
      this.unblock();
    } catch (err) {
      this.block(err);
      failure = err;
    }
    // Slash orders go on while roots wait or fail (an order already proposed still executes), and
    // a failing order never holds up a root: the keeper records its own errors.
    await this.slashKeeper.run().catch((err) => this.o.log?.(`slash keeper: ${describeChainError(err)}`));
    if (failure) throw failure;
  }

  private unblock(): void {
    if (!this.blocked) return;
    this.o.log?.(`epoch ${this.blocked.epoch}: closing again (was blocked at ${this.blocked.step}: ${this.blocked.error})`);
    this.blocked = null;
    this.o.onBlocked?.(null);
  }

  private block(err: unknown): void {
    const step = err instanceof StepError ? err.step : 'artifact';
    const epoch = err instanceof StepError ? err.epoch : -1;
    const cause = err instanceof StepError ? err.reason : err;
    const error = describeChainError(cause);
    const same = this.blocked && this.blocked.epoch === epoch && this.blocked.step === step && this.blocked.error === error;
    if (same) return;
    this.blocked = { epoch, step, error, hint: hintFor(step, cause, error, this.o.rpcUrl), since: this.now() };
    this.o.log?.(`epoch ${epoch} blocked at ${step}: ${error} — ${this.blocked.hint}`);
    this.o.onBlocked?.(this.blocked);
  }

  /**
   * When the chain lacks roots the database recorded as posted (it was rolled back, or restored
   * from an older snapshot), those epochs go back to `signed`, to be posted again in order.
   */
  private async reconcile(): Promise<void> {
    const posted = await this.o.epochs.latestPosted();
    if (posted === null) return;
    let latest: { root: Hex; epoch: bigint };
    try {
      latest = (await this.o.client.readContract({
        address: this.o.deployment.addresses.distributor,
        abi: RewardDistributorAbi,
        functionName: 'latestRoot',
      })) as { root: Hex; epoch: bigint };
    } catch (err) {
      throw new StepError('reconcile', posted, err);
    }
    const chainEpoch = /^0x0{64}$/.test(latest.root) ? -1 : Number(latest.epoch);
    if (chainEpoch >= posted) return;
    const again = await this.o.epochs.unpostAfter(chainEpoch, this.now());
    if (again.length) this.o.log?.(`the chain has no root after epoch ${chainEpoch}: posting epochs ${again.join(', ')} again`);
  }

  /** The oldest epoch not yet fully closed whose window has passed, or null. */
  private async nextEpoch(): Promise<number | null> {
    const open = await this.o.epochs.oldestOpen();
    if (open !== null) return open;
    const last = await this.o.epochs.latest();
    const next = last === null ? this.firstEpoch : last + 1;
    return this.now() >= this.cutoffMs(next) ? next : null;
  }

  /** When ingest stops taking `epoch`'s reports, plus a second for requests already in flight. */
  cutoffMs(epoch: number): number {
    return this.o.clock.end(epoch) * 1000 + this.o.graceMs + 1000;
  }

  /** Advances `epoch` as far as it can go now; returns its state. */
  async closeEpoch(epoch: number): Promise<EpochState> {
    let row = await this.o.epochs.row(epoch);
    if (!row) {
      await this.step('artifact', epoch, () => this.closeInputs(epoch));
      row = (await this.o.epochs.row(epoch))!;
      this.crashPoint('artifact', row);
    }
    if (row.state === 'scored') {
      // A row from before artifacts were streamed: its inputs are frozen as JSON; write their artifact.
      await this.step('artifact', epoch, () => this.legacyArtifact(row!));
      row = (await this.o.epochs.row(epoch))!;
    }
    if (row.state === 'artifact') {
      await this.step('sign', epoch, () => this.sign(epoch, row!));
      row = (await this.o.epochs.row(epoch))!;
      this.crashPoint('signed', row);
    }
    if (row.state === 'signed') {
      const posted = await this.step('post', epoch, () => this.post(epoch, row!));
      if (!posted) return 'signed';
      row = (await this.o.epochs.row(epoch))!;
      this.crashPoint('posted', row);
    }
    if (row.state === 'posted' || row.state === 'empty') {
      this.o.metrics.lastClosedEpoch.set(epoch);
      this.o.onClosed?.(epoch, row.state);
    }
    return row.state;
  }

  private async step<T>(step: CloseBlock['step'], epoch: number, fn: () => Promise<T>): Promise<T> {
    const end = this.o.metrics.epochCloseSeconds.startTimer({ step });
    try {
      return await fn();
    } catch (err) {
      throw err instanceof StepError ? err : new StepError(step, epoch, err);
    } finally {
      end();
    }
  }

  /** Step 1: freeze the inputs, compute, write the artifact, record it all. */
  private async closeInputs(epoch: number): Promise<void> {
    // Freeze ingest for this epoch first, then let any write already past its checks land.
    this.closing.add(epoch);
    const tables = await this.collectTables(epoch);
    // Ingest checked every report's digest and signature before storing it; `epoch verify`
    // checks them again from the artifact. The artifact's inputs are written while this computes.
    const crash = this.o.crashAfter === 'writing';
    const { outcome, ...artifact } = this.o.epochs.writeArtifact(
      epoch,
      tables,
      () => computeEpochTables(tables, this.o.plugins, { checkSignatures: false }),
      crash
        ? (computed) => {
            if (!computed.root) return; // as the other hooks: only epochs with a root
            this.o.log?.('crash hook: killing the oracle while it writes the artifact');
            process.kill(process.pid, 'SIGKILL');
          }
        : undefined,
    );
    const slashOrders = outcome.networks.flatMap((n) => n.findings.map((f) => slashOrderOf(epoch, n.kind, f, artifact.hash)));
    await this.o.epochs.recordClosed({
      epoch,
      state: outcome.root ? 'artifact' : 'empty',
      snapshotBlock: tables.snapshotBlock,
      artifact,
      summary: summarize(tables, outcome),
      leaves: encodeLeaves(outcome),
      slashOrders,
      now: this.now(),
    });
    const devices = tables.networks.reduce((s, n) => s + n.devices.length, 0);
    this.o.log?.(
      `epoch ${epoch}: ${devices} devices, paid ${outcome.paid}, root ${outcome.root ?? '(none)'}, artifact ${artifact.hash} (${artifact.size} bytes)${slashOrders.length ? `, ${slashOrders.length} slash orders` : ''}`,
    );
  }

  private async legacyArtifact(row: EpochRow): Promise<void> {
    const { tablesFromInputs } = await import('@groundwork/protocol');
    const tables = tablesFromInputs(JSON.parse(row.inputs!), this.o.plugins);
    const artifact = this.o.epochs.writeArtifactFile(row.epoch, tables, () =>
      computeEpochTables(tables, this.o.plugins, { checkSignatures: false }),
    );
    await this.o.epochs.recordLegacyArtifact(row.epoch, row.root ? 'artifact' : 'empty', artifact, this.now());
  }

  /** Everything the epoch's result depends on, read once, as tables. */
  async collectTables(epoch: number): Promise<EpochTables> {
    const { db, deployment, client } = this.o;
    const a = deployment.addresses;
    await this.ensureReleased(epoch);
    await this.o.follower.syncToHead();
    const snapshotBlock = this.o.follower.cursor.toString();
    await this.o.beforeCollect?.(epoch, snapshotBlock);
    const start = this.o.clock.start(epoch);
    const end = this.o.clock.end(epoch);

    const networks: EpochTables['networks'] = [];
    for (const net of deployment.networks) {
      if (!this.o.plugins[net.kind]) continue;
      const budget = (await client.readContract({
        address: a.emissions,
        abi: EmissionsAbi,
        functionName: 'networkBudget',
        args: [BigInt(epoch), net.id],
      })) as bigint;
      const t = networkTables(
        { kind: net.kind, id: net.id, budget: budget.toString(), parameters: this.o.parameters[net.kind] },
        this.o.plugins,
      );
      // Devices and challenges in device order: the verifier then matches challenges to devices
      // in one pass (epoch-tables.ts, DeviceTable.rowsOf). Reports in receive order, the order
      // they are judged in, so that judging reads them in order.
      t.devices.reserve(
        await count(db, 'select count(*)::int as n from devices where network = $1 and registered_block <= $2', [net.kind, snapshotBlock]),
      );
      await pages(
        db,
        `select d.device, d.network, d.key_x, d.key_y, d.stake::text as stake, d.registered_at,
                coalesce((select t.to_addr from device_transfers t where t.device = d.device and t.block <= $2
                          order by t.block desc, t.log_index desc limit 1), d.owner) as owner
           from devices d where d.network = $1 and d.registered_block <= $2 order by d.device`,
        [net.kind, snapshotBlock],
        (d) =>
          t.devices.push({
            device: d.device,
            owner: d.owner,
            network: d.network,
            keyX: d.key_x,
            keyY: d.key_y,
            stake: d.stake,
            registeredAt: Number(d.registered_at),
          }),
      );
      t.reports.reserve(await count(db, 'select count(*)::int as n from reports where network = $1 and epoch = $2', [net.kind, epoch]));
      await pages(
        db,
        'select digest, report, received_at from reports where network = $1 and epoch = $2 order by received_at, digest',
        [net.kind, epoch],
        (r) => t.reports.push({ report: JSON.parse(r.report), digest: r.digest, receivedAt: Number(r.received_at) }),
      );
      t.oracleInputs.reserve?.(
        await count(db, 'select count(*)::int as n from challenges where network = $1 and epoch = $2', [net.kind, epoch]),
      );
      await pages(
        db,
        'select network, device, epoch, nonce, issued_at, deadline from challenges where network = $1 and epoch = $2 order by device, issued_at, nonce',
        [net.kind, epoch],
        (c) =>
          t.oracleInputs.push({
            network: c.network,
            device: c.device,
            epoch: c.epoch,
            nonce: c.nonce,
            issuedAt: Number(c.issued_at),
            deadline: Number(c.deadline),
          }),
      );
      // What the network's services recorded for the epoch (compute: spot-check verdicts).
      await pages(db, 'select input from oracle_inputs where network = $1 and epoch = $2 order by id', [net.kind, epoch], (r) =>
        t.oracleInputs.push(JSON.parse(r.input)),
      );
      await pages(
        db,
        'select device, digest, reason, detail from ingest_rejections where network = $1 and epoch = $2 order by id',
        [net.kind, epoch],
        (r) => t.ingestRejections.push({ device: r.device, digest: r.digest, reason: r.reason, detail: r.detail }),
      );
      const usage = await db.query(
        `select device, sum(credits)::text as credits from credit_spends
          where network = $1 and block_time >= $2 and block_time < $3 and spender <> $4 group by device order by device`,
        [net.kind, start * 1000, end * 1000, a.registry.toLowerCase()],
      );
      for (const u of usage) t.usage.push({ device: u.device, credits: u.credits });
      networks.push(t);
    }
    const tables: EpochTables = {
      format: ARTIFACT_FORMAT,
      chainId: deployment.chainId,
      registry: a.registry,
      distributor: a.distributor,
      epoch,
      start,
      end,
      snapshotBlock,
      networks,
      prior: await this.o.epochs.prior(epoch),
    };
    compactTables(tables);
    return tables;
  }

  /** Mints the epoch's emission if nobody has yet (anyone may call release). */
  private async ensureReleased(epoch: number): Promise<void> {
    const { client, wallet, deployment } = this.o;
    try {
      const released = await client.readContract({
        address: deployment.addresses.emissions,
        abi: EmissionsAbi,
        functionName: 'released',
        args: [BigInt(epoch)],
      });
      if (released) return;
      await this.waitForChainTime(this.o.clock.end(epoch));
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
      if (revertName(err) !== 'EpochAlreadyReleased') throw new StepError('release', epoch, err);
    }
  }

  private async sign(epoch: number, row: EpochRow): Promise<void> {
    // The epoch's slash orders first: once the root is signed this step is not run again.
    await this.slashKeeper.signEpoch(epoch);
    const signers = this.o.signers.slice(0, this.o.quorum);
    const signatures = await signRewardRoot(signers, this.o.deployment.chainId, this.o.deployment.addresses.distributor, {
      epoch: BigInt(epoch),
      root: row.root as Hex,
      total: BigInt(row.total!),
      artifactHash: row.artifact_hash as Hex,
    });
    await this.o.epochs.markSigned(epoch, signatures, this.now());
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
      if (!tx) throw new Error(`the chain is at epoch ${latest.epoch} but has no root ${row.root} for epoch ${epoch}`);
      await this.o.epochs.markPosted(epoch, tx, this.now());
      return true;
    }
    const head = await client.getBlock({ blockTag: 'pending' });
    if (BigInt(latest.activeAt) > head.timestamp) return false;
    // After a rollback the chain may also have lost this epoch's release.
    await this.ensureReleased(epoch);
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
      await this.o.epochs.markPosted(epoch, hash, this.now());
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

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

/**
 * Reads a query's rows a page at a time through a cursor (one sort, however many pages) and hands
 * each row to `each`: an epoch's million reports never arrive as one array of objects.
 */
async function pages(db: Database, sql: string, params: readonly unknown[], each: (row: Row) => void): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`declare epoch_rows no scroll cursor for ${sql}`, params);
    for (;;) {
      const rows = await tx.query(`fetch ${PAGE} from epoch_rows`);
      for (const r of rows) each(r);
      if (rows.length < PAGE) break;
    }
    await tx.query('close epoch_rows');
  });
}

async function count(db: Database, sql: string, params: readonly unknown[]): Promise<number> {
  return (await db.query<{ n: number }>(sql, params))[0]?.n ?? 0;
}

export function revertName(err: unknown): string | undefined {
  const revert = err instanceof BaseError ? err.walk((e) => e instanceof ContractFunctionRevertedError) : null;
  return revert instanceof ContractFunctionRevertedError ? revert.data?.errorName : undefined;
}

/** One line for an error: a revert's name and arguments, viem's short message, or the message. */
export function describeChainError(err: unknown): string {
  if (err instanceof BaseError) {
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
    if (revert?.data?.errorName) {
      const args = (revert.data.args ?? []).map((a) => (typeof a === 'bigint' ? a.toString() : JSON.stringify(a))).join(', ');
      return `the chain refused: ${revert.data.errorName}(${args})`;
    }
    return err.shortMessage.split('\n')[0]!;
  }
  return ((err as Error)?.message ?? String(err)).split('\n')[0]!;
}

/** What an operator can do about a blocked close. */
export function hintFor(step: CloseBlock['step'], err: unknown, message: string, rpcUrl?: string): string {
  const name = revertName(err);
  const where = rpcUrl ? ` at ${rpcUrl}` : '';
  if (/fetch failed|ECONNREFUSED|ECONNRESET|socket hang up|HTTP request failed|timed out/i.test(message))
    return `the chain${where} does not answer: start it or point --rpc at it; the closer retries on its own`;
  if (err instanceof EpochInputError)
    return 'the epoch’s inputs are inconsistent (a corrupt database or a bug): keep the data directory and report it';
  switch (name) {
    case 'TotalExceedsReleased':
      return 'Emissions has released less than this root pays: check that --rpc is the deployment’s chain; a release lost in a rollback is made again on the next try';
    case 'EpochNotAfterLatest':
    case 'TotalDecreased':
      return 'the chain holds a later root than this database: the database is older than the chain (restored from a backup?); restore a newer one, or start a fresh data directory';
    case 'RootWasRevoked':
      return 'the guardian or governance revoked this root: find out why before this oracle posts again';
    case 'EpochNotEnded':
      return 'the chain’s clock is behind this machine’s: the closer retries once the chain reaches the epoch’s end';
    case 'InvalidSignature':
    case 'InsufficientSignatures':
    case 'SignersNotSorted':
      return 'the distributor refused the quorum’s signatures: check that this oracle’s signer keys are the distributor’s oracle set';
  }
  if (step === 'post') return 'the distributor refused the root: see the error; the closer retries every few seconds';
  return 'the closer retries every few seconds; if this persists, see the error and the oracle’s log';
}

export type { Address };
