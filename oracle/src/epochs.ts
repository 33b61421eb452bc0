// Every query on the oracle's closed epochs and their artifacts, in one place: the closer writes
// through it, the API and the devnet read through it.
//
// An epoch's artifact is written once, as a stream, to a file in the artifact directory (or, with
// no data directory, to a temporary file that becomes chunks of a database row), and never held
// whole. Beside it the epoch row keeps what the API and the next epoch need without reading the
// artifact: a small summary and the cumulative leaves (each account's amount and what it earned
// in the epoch), 84 bytes per account.
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Address, Hex } from 'viem';
import { AccountAmounts, type EpochOutcome, type EpochResult, type EpochTables, RewardTree } from '@groundwork/protocol';
import { writeArtifactFile } from './artifact-file.ts';
import type { Database, Queryable } from './db/database.ts';
import { insertSlashOrders, type NewSlashOrder } from './slashing.ts';

export type EpochState = 'scored' | 'artifact' | 'signed' | 'posted' | 'empty';

export type EpochRow = {
  epoch: number;
  state: EpochState;
  snapshot_block: string | null;
  root: Hex | null;
  total: string | null;
  artifact_hash: Hex | null;
  signatures: Hex | null;
  tx_hash: Hex | null;
  /** Legacy rows (before artifacts were streamed) keep their inputs and result as JSON text. */
  inputs: string | null;
  result: string | null;
};

/** What a closed epoch paid, per network and in all: what the API and the devnet show. */
export type EpochSummary = {
  networks: {
    kind: string;
    budget: string;
    usagePool: string;
    proofPool: string;
    paid: string;
    undistributed: string;
    devices: number;
    /** Σ scores (parts per million) over the devices: mean score = scoreSum / devices / 10^6. */
    scoreSum: number;
    rejections: number;
  }[];
  total: string;
  paid: string;
  undistributed: string;
  root: Hex | null;
  /** Accounts that earned in this epoch. */
  owners: number;
  /** Accounts in the tree. */
  leaves: number;
};

/** The tree's leaves: accounts in order, cumulative amounts, and what each earned this epoch (0n: nothing). */
export type Leaves = { accounts: Uint8Array; amounts: bigint[]; earned: bigint[] };

const LEAF_BYTES = 20 + 32 + 32;
const CHUNK_BYTES = 1 << 20;

function writeUint256(out: Buffer, at: number, value: bigint): void {
  let v = value;
  for (let i = 31; i >= 0; i--) {
    out[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function readUint256(bytes: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 0; i < 32; i++) v = (v << 8n) | BigInt(bytes[at + i]!);
  return v;
}

export function encodeLeaves(outcome: EpochOutcome): Buffer {
  const { accounts, amounts, earner } = outcome.rewards.cumulative;
  const out = Buffer.alloc(LEAF_BYTES * amounts.length);
  for (let l = 0; l < amounts.length; l++) {
    out.set(accounts.subarray(20 * l, 20 * l + 20), LEAF_BYTES * l);
    writeUint256(out, LEAF_BYTES * l + 20, amounts[l]!);
    const e = earner[l]!;
    writeUint256(out, LEAF_BYTES * l + 52, e >= 0 ? outcome.rewards.earned[e]! : 0n);
  }
  return out;
}

export function decodeLeaves(bytes: Uint8Array): Leaves {
  const n = Math.floor(bytes.length / LEAF_BYTES);
  const accounts = new Uint8Array(20 * n);
  const amounts = new Array<bigint>(n);
  const earned = new Array<bigint>(n);
  for (let l = 0; l < n; l++) {
    accounts.set(bytes.subarray(LEAF_BYTES * l, LEAF_BYTES * l + 20), 20 * l);
    amounts[l] = readUint256(bytes, LEAF_BYTES * l + 20);
    earned[l] = readUint256(bytes, LEAF_BYTES * l + 52);
  }
  return { accounts, amounts, earned };
}

export function summarize(tables: EpochTables, outcome: EpochOutcome): EpochSummary {
  let owners = 0;
  for (const e of outcome.rewards.cumulative.earner) if (e >= 0) owners++;
  return {
    networks: outcome.networks.map((n, k) => {
      let scoreSum = 0;
      for (const s of n.scores) scoreSum += s;
      return {
        kind: n.kind,
        budget: n.budget.toString(),
        usagePool: n.usagePool.toString(),
        proofPool: n.proofPool.toString(),
        paid: n.paid.toString(),
        undistributed: n.undistributed.toString(),
        devices: tables.networks[k]!.devices.length,
        scoreSum,
        rejections: n.rejections.reduce((s, t) => s + t.length, 0),
      };
    }),
    total: outcome.total.toString(),
    paid: outcome.paid.toString(),
    undistributed: outcome.undistributed.toString(),
    root: outcome.root,
    owners,
    leaves: outcome.rewards.cumulative.amounts.length,
  };
}

/** A legacy row's result (JSON text) as a summary and leaves. */
function fromLegacyResult(result: EpochResult): { summary: EpochSummary; leaves: Leaves } {
  const earnedOf = new Map(result.owners.map((o) => [o.account.toLowerCase(), BigInt(o.amount)]));
  const accounts = new Uint8Array(20 * result.cumulative.length);
  result.cumulative.forEach((c, l) => {
    accounts.set(Buffer.from(c.account.slice(2), 'hex'), 20 * l);
  });
  return {
    summary: {
      networks: result.networks.map((n) => ({
        kind: n.kind,
        budget: n.budget,
        usagePool: n.usagePool,
        proofPool: n.proofPool,
        paid: n.paid,
        undistributed: n.undistributed,
        devices: n.scores.length,
        scoreSum: n.scores.reduce((s, x) => s + Number(x.score), 0),
        rejections: n.rejections.length,
      })),
      total: result.total,
      paid: result.paid,
      undistributed: result.undistributed,
      root: result.root,
      owners: result.owners.length,
      leaves: result.cumulative.length,
    },
    leaves: {
      accounts,
      amounts: result.cumulative.map((c) => BigInt(c.amount)),
      earned: result.cumulative.map((c) => earnedOf.get(c.account.toLowerCase()) ?? 0n),
    },
  };
}

/** An artifact written to a file: its name there, bytes and sha256. */
export type WrittenArtifact = { file: string; size: number; hash: Hex };

export type EpochStoreOptions = {
  db: Database;
  /** Where artifact files live; without one, artifacts are kept as chunks in the database. */
  artifactDir?: string;
};

export class EpochStore {
  private readonly results = new Map<number, { summary: EpochSummary; leaves: Leaves }>();
  private readonly trees = new Map<number, RewardTree | null>();

  constructor(private readonly o: EpochStoreOptions) {}

  get db(): Database {
    return this.o.db;
  }

  async row(epoch: number): Promise<EpochRow | null> {
    const rows = await this.o.db.query<EpochRow>(
      'select epoch, state, snapshot_block::text as snapshot_block, inputs, result, root, total::text as total, artifact_hash, signatures, tx_hash from epochs where epoch = $1',
      [epoch],
    );
    return rows[0] ?? null;
  }

  /** Epochs not fully closed, oldest first. */
  async oldestOpen(): Promise<number | null> {
    const rows = await this.o.db.query<{ epoch: number }>(
      "select epoch from epochs where state not in ('posted', 'empty') order by epoch limit 1",
    );
    return rows[0]?.epoch ?? null;
  }

  async latest(): Promise<number | null> {
    const rows = await this.o.db.query<{ epoch: number | null }>('select max(epoch) as epoch from epochs');
    return rows[0]?.epoch ?? null;
  }

  async all(): Promise<number[]> {
    return (await this.o.db.query<{ epoch: number }>('select epoch from epochs order by epoch')).map((r) => r.epoch);
  }

  /** The latest posted (or empty) epoch: where a devnet resumes. */
  async lastClosed(): Promise<number | null> {
    const rows = await this.o.db.query<{ epoch: number | null }>(
      "select max(epoch) as epoch from epochs where state in ('posted','empty')",
    );
    return rows[0]?.epoch ?? null;
  }

  async latestPosted(): Promise<number | null> {
    const rows = await this.o.db.query<{ epoch: number | null }>("select max(epoch) as epoch from epochs where state = 'posted'");
    return rows[0]?.epoch ?? null;
  }

  async statusCounts(): Promise<{ closed: number | null; posted: number | null; n: number }> {
    const [r] = await this.o.db.query(
      "select max(epoch) filter (where state in ('posted','empty')) as closed, max(epoch) filter (where state = 'posted') as posted, count(*)::int as n from epochs",
    );
    return { closed: r?.closed ?? null, posted: r?.posted ?? null, n: r?.n ?? 0 };
  }

  async list(limit: number): Promise<EpochRow[]> {
    return this.o.db.query<EpochRow>(
      'select epoch, state, root, total::text as total, artifact_hash, tx_hash from epochs order by epoch desc limit $1',
      [limit],
    );
  }

  /** Epochs with a result, newest first (at most `limit`, or only `epoch`). */
  async withResults(limit: number, epoch?: number): Promise<number[]> {
    const rows =
      epoch === undefined
        ? await this.o.db.query<{ epoch: number }>(
            'select epoch from epochs where summary is not null or result is not null order by epoch desc limit $1',
            [limit],
          )
        : await this.o.db.query<{ epoch: number }>(
            'select epoch from epochs where epoch = $1 and (summary is not null or result is not null)',
            [epoch],
          );
    return rows.map((r) => r.epoch);
  }

  /** The summary and leaves of a closed epoch (cached: a stored result never changes). */
  async result(epoch: number): Promise<{ summary: EpochSummary; leaves: Leaves } | null> {
    const cached = this.results.get(epoch);
    if (cached) return cached;
    const rows = await this.o.db.query<{ summary: string | null; leaves: Uint8Array | null; result: string | null }>(
      'select summary, leaves, result from epochs where epoch = $1',
      [epoch],
    );
    const r = rows[0];
    let out: { summary: EpochSummary; leaves: Leaves } | null = null;
    if (r?.summary && r.leaves) out = { summary: JSON.parse(r.summary) as EpochSummary, leaves: decodeLeaves(r.leaves) };
    else if (r?.result) out = fromLegacyResult(JSON.parse(r.result) as EpochResult);
    if (!out) return null;
    this.results.set(epoch, out);
    if (this.results.size > 8) this.results.delete(this.results.keys().next().value!);
    return out;
  }

  /** The reward tree of a closed epoch (cached), or null when it has none. */
  async tree(epoch: number): Promise<RewardTree | null> {
    if (this.trees.has(epoch)) return this.trees.get(epoch)!;
    const r = await this.result(epoch);
    if (!r) return null;
    const tree = r.leaves.amounts.length ? RewardTree.fromColumns(r.leaves.accounts, r.leaves.amounts) : null;
    this.trees.set(epoch, tree);
    if (this.trees.size > 8) this.trees.delete(this.trees.keys().next().value!);
    return tree;
  }

  /** The epoch before `epoch` that has a result: its number, root, total and cumulative amounts. */
  async prior(epoch: number): Promise<EpochTables['prior']> {
    const rows = await this.o.db.query<{ epoch: number }>(
      'select epoch from epochs where epoch < $1 and (summary is not null or result is not null) order by epoch desc limit 1',
      [epoch],
    );
    const cumulative = new AccountAmounts();
    const e = rows[0]?.epoch;
    if (e === undefined) return { epoch: null, root: null, total: '0', cumulative };
    const r = (await this.result(e))!;
    for (let l = 0; l < r.leaves.amounts.length; l++) cumulative.accounts.pushBytes(r.leaves.accounts, 20 * l);
    cumulative.amounts.push(...r.leaves.amounts);
    return { epoch: e, root: r.summary.root, total: r.summary.total, cumulative };
  }

  /**
   * Computes an epoch and writes its artifact, streamed, to `<dir>/epoch-<e>.json` through a
   * temporary file, synced, then renamed: a reader sees no file or the whole of it, never part.
   */
  writeArtifact(
    epoch: number,
    tables: EpochTables,
    compute: () => EpochOutcome,
    midWrite?: (outcome: EpochOutcome) => void,
  ): WrittenArtifact & { outcome: EpochOutcome } {
    const dir = this.o.artifactDir ?? mkdtempSync(path.join(tmpdir(), 'groundwork-artifact-'));
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `epoch-${epoch}.json`);
    const { size, hash, outcome } = writeArtifactFile(`${file}.tmp`, tables, compute, { midWrite });
    renameSync(`${file}.tmp`, file);
    return { file, size, hash, outcome };
  }

  /** The same for a legacy row's artifact (its result is recomputed from its frozen inputs). */
  writeArtifactFile(epoch: number, tables: EpochTables, compute: () => EpochOutcome): WrittenArtifact {
    const { file, size, hash } = this.writeArtifact(epoch, tables, compute);
    return { file, size, hash };
  }

  /**
   * Records a closed epoch and its artifact in one transaction: `artifact` (or `empty`), with its
   * summary, leaves and slash orders (one per finding); the artifact row points at the file, or
   * holds its bytes as chunks when there is no artifact directory (the temporary file is removed
   * once they are in).
   */
  async recordClosed(c: {
    epoch: number;
    state: 'artifact' | 'empty';
    snapshotBlock: string;
    artifact: WrittenArtifact;
    summary: EpochSummary;
    leaves: Buffer;
    /** The epoch's findings as slash orders: recorded with the epoch, so it never exists without them. */
    slashOrders?: readonly NewSlashOrder[];
    now: number;
  }): Promise<void> {
    const inDatabase = this.o.artifactDir === undefined;
    try {
      await this.o.db.transaction(async (tx) => {
        if (c.slashOrders?.length) await insertSlashOrders(tx, c.slashOrders, c.now);
        await tx.query('insert into artifacts (hash, epoch, size, file) values ($1, $2, $3, $4) on conflict (hash) do nothing', [
          c.artifact.hash,
          c.epoch,
          c.artifact.size,
          inDatabase ? null : path.basename(c.artifact.file),
        ]);
        if (inDatabase) await insertChunks(tx, c.artifact);
        await tx.query(
          `insert into epochs (epoch, state, snapshot_block, root, total, artifact_hash, summary, leaves, updated_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict (epoch) do nothing`,
          [c.epoch, c.state, c.snapshotBlock, c.summary.root, c.summary.total, c.artifact.hash, JSON.stringify(c.summary), c.leaves, c.now],
        );
      });
    } finally {
      if (inDatabase) rmSync(path.dirname(c.artifact.file), { recursive: true, force: true });
    }
  }

  /** A legacy `scored` row (inputs and result as JSON, no artifact yet) gets its artifact. */
  async recordLegacyArtifact(epoch: number, state: 'artifact' | 'empty', artifact: WrittenArtifact, now: number): Promise<void> {
    const inDatabase = this.o.artifactDir === undefined;
    try {
      await this.o.db.transaction(async (tx) => {
        await tx.query('insert into artifacts (hash, epoch, size, file) values ($1, $2, $3, $4) on conflict (hash) do nothing', [
          artifact.hash,
          epoch,
          artifact.size,
          inDatabase ? null : path.basename(artifact.file),
        ]);
        if (inDatabase) await insertChunks(tx, artifact);
        await tx.query('update epochs set state = $2, artifact_hash = $3, updated_at = $4 where epoch = $1', [
          epoch,
          state,
          artifact.hash,
          now,
        ]);
      });
    } finally {
      if (inDatabase) rmSync(path.dirname(artifact.file), { recursive: true, force: true });
    }
  }

  async markSigned(epoch: number, signatures: Hex, now: number): Promise<void> {
    await this.o.db.query("update epochs set state = 'signed', signatures = $2, updated_at = $3 where epoch = $1", [
      epoch,
      signatures,
      now,
    ]);
  }

  async markPosted(epoch: number, txHash: Hex, now: number): Promise<void> {
    await this.o.db.query("update epochs set state = 'posted', tx_hash = $2, updated_at = $3 where epoch = $1", [epoch, txHash, now]);
  }

  /** Epochs recorded as posted after `epoch` (their roots the chain no longer has) go back to signed. */
  async unpostAfter(epoch: number, now: number): Promise<number[]> {
    const rows = await this.o.db.query<{ epoch: number }>(
      "update epochs set state = 'signed', tx_hash = null, updated_at = $2 where state = 'posted' and epoch > $1 returning epoch",
      [epoch, now],
    );
    return rows.map((r) => r.epoch).sort((a, b) => a - b);
  }

  /** An artifact's bytes, streamed, by epoch or by hash; null if there is none. */
  async artifact(
    by: { epoch: number } | { hash: Hex },
  ): Promise<{ hash: Hex; size: number | null; stream: () => AsyncIterable<Uint8Array> } | null> {
    const rows =
      'epoch' in by
        ? await this.o.db.query(
            'select a.hash, a.size::text as size, a.file, a.body from artifacts a join epochs e on e.artifact_hash = a.hash where e.epoch = $1',
            [by.epoch],
          )
        : await this.o.db.query('select hash, size::text as size, file, body from artifacts where hash = $1', [by.hash]);
    const r = rows[0];
    if (!r) return null;
    const hash = r.hash as Hex;
    if (r.body !== null && r.body !== undefined) {
      const body = Buffer.from(r.body as string, 'utf8');
      return { hash, size: body.length, stream: () => oneChunk(body) };
    }
    if (r.file) {
      const file = path.join(this.o.artifactDir ?? '', r.file as string);
      if (!this.o.artifactDir || !existsSync(file)) throw new Error(`the artifact file ${file} of ${hash} is missing`);
      return { hash, size: Number(r.size), stream: () => createReadStream(file) };
    }
    return { hash, size: Number(r.size), stream: () => this.chunks(hash) };
  }

  private async *chunks(hash: Hex): AsyncIterable<Uint8Array> {
    for (let seq = 0; ; seq += 16) {
      const rows = await this.o.db.query<{ data: Uint8Array }>(
        'select data from artifact_chunks where hash = $1 and seq >= $2 and seq < $3 order by seq',
        [hash, seq, seq + 16],
      );
      for (const r of rows) yield r.data;
      if (rows.length < 16) return;
    }
  }
}

async function* oneChunk(bytes: Buffer): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** Copies an artifact file into `artifact_chunks` rows of 1 MiB. */
async function insertChunks(tx: Queryable, artifact: WrittenArtifact): Promise<void> {
  const fd = openSync(artifact.file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let seq = 0, at = 0; at < artifact.size; seq++) {
      const n = readSync(fd, buf, 0, CHUNK_BYTES, at);
      if (n <= 0) break;
      await tx.query('insert into artifact_chunks (hash, seq, data) values ($1, $2, $3) on conflict do nothing', [
        artifact.hash,
        seq,
        Buffer.from(buf.subarray(0, n)),
      ]);
      at += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Lowercase 0x account of leaf `l`. */
export function leafAccount(leaves: Leaves, l: number): Address {
  return `0x${Buffer.from(leaves.accounts.subarray(20 * l, 20 * l + 20)).toString('hex')}` as Address;
}

/** The leaf of `account` (any case), or -1: leaves are sorted by account bytes. */
export function findLeaf(leaves: Leaves, account: string): number {
  const want = Buffer.from(account.slice(2).toLowerCase(), 'hex');
  let lo = 0;
  let hi = leaves.amounts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(leaves.accounts.subarray(20 * mid, 20 * mid + 20), want) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo < leaves.amounts.length && Buffer.compare(leaves.accounts.subarray(20 * lo, 20 * lo + 20), want) === 0 ? lo : -1;
}
