// Ingest: schema check, domain check, signature check against the registry, epoch window, then a
// durable write, and only then the ack. A batch is all or nothing. Anything refused gets a status
// and a reason, and no accepted-report row is written for it.
import type { Hex } from 'viem';
import {
  type EpochClock,
  LIMITS,
  encodeReport,
  describeZodError,
  reportSchema,
  sha256Hex,
  type Domain,
  type NetworkPlugins,
  type Report,
  type AcceptedReport,
} from '@groundwork/protocol';
import type { Database, Queryable } from './db/database.ts';
import type { DeviceCache } from './devices.ts';
import type { OracleMetrics } from './metrics.ts';
import { SignatureWorkerError, type SignaturePool } from './signatures.ts';

export type Refusal = { ok: false; status: number; reason: string; detail: string; digest?: Hex; index?: number };
export type Accepted = { ok: true; digest: Hex; status: 'stored' | 'duplicate' };
export type IngestResult = Accepted | Refusal;

type Checked = {
  ok: true;
  report: Report;
  digest: Hex;
  receivedAt: number /** canonical JSON of the report (its digest's preimage) */;
  json: string;
};
/** A report that passed every check before its signature's: what the signature check needs. */
type Prechecked = Checked & { signingBytes: Uint8Array; keyX: Hex; keyY: Hex };

/** At most this many refusals are kept per device and epoch ("why was I not paid?"). */
export const MAX_REJECTIONS_PER_DEVICE_EPOCH = 32;

export type IngestOptions = {
  db: Database;
  devices: DeviceCache;
  domain: Domain;
  plugins: NetworkPlugins;
  clock: EpochClock;
  /** How long after an epoch's end its reports are still taken (ms). */
  graceMs: number;
  metrics: OracleMetrics;
  /** The worker threads that check device signatures. */
  signatures: SignaturePool;
  now?: () => number;
  /** Epochs whose close has begun: their inputs are frozen. */
  isClosing: (epoch: number) => boolean;
  /** Called with the reports just stored durably (not duplicates), after the write; errors are the listener's. */
  onStored?: (reports: readonly AcceptedReport[]) => void;
};

export class Ingest {
  private readonly now: () => number;

  constructor(private readonly o: IngestOptions) {
    this.now = o.now ?? Date.now;
  }

  /**
   * Checks one report (already JSON-parsed) up to its signature, without writing anything: the
   * schema, the domain, the network and type, the body, the device. Signatures are then checked
   * for a whole call at once on the signature pool, and the epoch window after that.
   */
  private precheck(raw: unknown, receivedAt: number): Prechecked | Refusal {
    const parsed = reportSchema.safeParse(raw);
    if (!parsed.success) return refuse(400, 'malformed', describeZodError(parsed.error));
    const report = parsed.data;
    if (report.chainId !== this.o.domain.chainId || report.registry.toLowerCase() !== this.o.domain.registry.toLowerCase()) {
      return refuse(403, 'wrong-domain', `this oracle serves chain ${this.o.domain.chainId}, registry ${this.o.domain.registry}`);
    }
    const plugin = this.o.plugins[report.network];
    if (!plugin)
      return refuse(400, 'unknown-network', `no network "${report.network}" here (known: ${Object.keys(this.o.plugins).join(', ')})`);
    const bodySchema = plugin.reportTypes[report.type];
    if (!bodySchema)
      return refuse(
        400,
        'unknown-type',
        `network ${report.network} takes ${Object.keys(plugin.reportTypes).join(', ')}, not ${report.type}`,
      );
    let encoded: ReturnType<typeof encodeReport>;
    try {
      encoded = encodeReport(report);
    } catch (err) {
      // JSON numbers that are not safe integers (1.5, 1e300), or nesting too deep to encode.
      return refuse(400, 'bad-body', `the body has no canonical encoding: ${(err as Error).message}`);
    }
    if (encoded.bodyBytes > LIMITS.maxReportBodyBytes)
      return refuse(413, 'body-too-large', `a report body may be at most ${LIMITS.maxReportBodyBytes} bytes`);
    const body = bodySchema.safeParse(report.body);
    if (!body.success) return refuse(400, 'bad-body', describeZodError(body.error));

    const device = this.o.devices.get(report.device);
    if (!device)
      return refuse(
        403,
        'unregistered-device',
        `device ${report.device} is not registered (or the oracle has not seen its registration yet)`,
      );
    const digest = sha256Hex(encoded.bytes); // = reportDigest(report)
    if (device.network !== report.network) {
      return refuse(403, 'wrong-network', `device is registered for ${device.network}, not ${report.network}`, digest);
    }
    return {
      ok: true,
      report,
      digest,
      receivedAt,
      json: encoded.json,
      signingBytes: encoded.signingBytes,
      keyX: device.keyX,
      keyY: device.keyY,
    };
  }

  /** The epoch window, checked once the signature is known to be good. */
  private checkEpoch(c: Prechecked): Checked | Refusal {
    const { report, digest, receivedAt } = c;
    const current = this.o.clock.epochAtMs(receivedAt);
    if (report.epoch > current) return refuse(409, 'future-epoch', `epoch ${report.epoch} has not started (current ${current})`, digest);
    const cutoff = this.o.clock.end(report.epoch) * 1000 + this.o.graceMs;
    if (receivedAt >= cutoff || this.o.isClosing(report.epoch)) {
      return refuse(409, 'epoch-closed', `epoch ${report.epoch} took reports until ${new Date(cutoff).toISOString()}`, digest);
    }
    return { ok: true, report, digest, receivedAt, json: c.json };
  }

  /** Checks a call's reports: every check up to the signature, the signatures together, the epochs. */
  private async checkAll(raws: readonly unknown[], receivedAt: number): Promise<(Checked | Refusal)[]> {
    const pre = raws.map((raw) => this.precheck(raw, receivedAt));
    const toVerify = pre.filter((c): c is Prechecked => c.ok);
    let verified: boolean[];
    try {
      verified = await this.o.signatures.verify(
        toVerify.map((c) => ({ device: c.report.device, keyX: c.keyX, keyY: c.keyY, message: c.signingBytes, sig: c.report.sig })),
      );
    } catch (err) {
      if (!(err instanceof SignatureWorkerError)) throw err;
      // A signature worker died: nothing is stored and the client may send the same reports again.
      const detail = `signatures could not be checked (${err.message}); nothing was stored, try again`;
      return pre.map((c) => (c.ok ? refuse(503, 'unavailable', detail) : c));
    }
    let k = 0;
    return pre.map((c) => {
      if (!c.ok) return c;
      if (!verified[k++])
        return refuse(401, 'bad-signature', "the signature does not verify against the device's registered key", c.digest);
      return this.checkEpoch(c);
    });
  }

  /** Checks and stores one report; resolves after the row is durable. */
  async submit(raw: unknown): Promise<IngestResult> {
    const [result] = await this.submitMany([raw]);
    return result!;
  }

  /** Checks every report; stores all of them in one transaction, or none if any is refused. */
  async submitBatch(
    raws: readonly unknown[],
  ): Promise<{ ok: true; results: Accepted[] } | { ok: false; status: number; refusals: Refusal[] }> {
    const results = await this.submitMany(raws);
    const refusals = results.filter((r): r is Refusal => !r.ok);
    if (refusals.length) return { ok: false, status: refusals[0]!.status, refusals };
    return { ok: true, results: results as Accepted[] };
  }

  /** All or nothing: one refusal refuses every report in the call. */
  private async submitMany(raws: readonly unknown[]): Promise<IngestResult[]> {
    const started = performance.now();
    const receivedAt = this.now();
    const checked = (await this.checkAll(raws, receivedAt)).map((c, index) => (c.ok ? c : { ...c, index }));
    const refusals = checked.filter((c): c is Refusal & { index: number } => !c.ok);
    if (refusals.length) {
      await this.recordRefusals(raws, refusals);
      for (const r of refusals) this.o.metrics.reportsRefused.inc({ reason: r.reason });
      return checked.map((c) =>
        c.ok
          ? { ok: false, status: 409, reason: 'batch-refused', detail: 'another report in the batch was refused; nothing was stored' }
          : c,
      ) as IngestResult[];
    }
    const good = checked.filter((c): c is Checked => c.ok);
    let stored: Set<string>;
    try {
      stored = await this.store(good);
    } catch (err) {
      if (!(err instanceof EpochClosedError)) throw err;
      this.o.metrics.reportsRefused.inc({ reason: 'epoch-closed' });
      return checked.map(() => ({ ok: false, status: 409, reason: 'epoch-closed', detail: err.message }));
    }
    this.o.metrics.reportsAccepted.inc({ status: 'stored' }, stored.size);
    this.o.metrics.reportsAccepted.inc({ status: 'duplicate' }, good.length - stored.size);
    if (this.o.onStored && stored.size) {
      this.o.onStored(
        good.filter((c) => stored.has(c.digest)).map((c) => ({ report: c.report, digest: c.digest, receivedAt: c.receivedAt })),
      );
    }
    this.o.metrics.ingestSeconds.observe((performance.now() - started) / 1000);
    return checked.map((c) =>
      c.ok ? { ok: true, digest: c.digest, status: stored.has(c.digest) ? 'stored' : 'duplicate' } : c,
    ) as IngestResult[];
  }

  /**
   * Writes the reports in one transaction; returns the digests that were new. The rows go in as
   * seven array parameters (one per column, unnested), not seven parameters per row: binding a
   * few arrays costs the database driver far less than binding 1,400 values for 200 reports.
   */
  private async store(reports: readonly Checked[]): Promise<Set<string>> {
    if (!reports.length) return new Set();
    const columns = {
      digest: reports.map((r) => r.digest),
      network: reports.map((r) => r.report.network),
      device: reports.map((r) => r.report.device),
      epoch: reports.map((r) => r.report.epoch),
      type: reports.map((r) => r.report.type),
      report: reports.map((r) => r.json),
      receivedAt: reports.map((r) => r.receivedAt),
    };
    const rows = await this.o.db.transaction(async (tx) => {
      // Refuse at write time too, in case a close began while the batch was being checked.
      const epochs = [...new Set(columns.epoch)];
      const closing = await tx.query('select epoch from epochs where epoch = any($1)', [epochs]);
      if (closing.length) throw new EpochClosedError(closing[0]!.epoch);
      const { digest, network, device, epoch, type, report, receivedAt } = columns;
      return tx.query<{ digest: string }>(insertReportsSql(), [digest, network, device, epoch, type, report, receivedAt]);
    });
    return new Set(rows.map((r) => r.digest));
  }

  /** Keeps the reason for refusals that name a registered device, so its owner can see them. */
  private async recordRefusals(raws: readonly unknown[], refusals: readonly (Refusal & { index: number })[]): Promise<void> {
    const rows: unknown[][] = [];
    const current = this.o.clock.epochAtMs(this.now());
    for (const r of refusals) {
      if (!r.digest) continue; // only refusals after the device was identified carry a digest
      const report = raws[r.index] as Report;
      // Only refusals for the epochs ingest is taking are kept: any other epoch number would let
      // anyone add rows for a device without bound (and could overflow the int4 column).
      if (report.epoch < current - 1 || report.epoch > current) continue;
      rows.push([report.network, report.device, report.epoch, r.digest, r.reason, r.detail, this.now()]);
    }
    if (!rows.length) return;
    await this.o.db.transaction(async (tx) => {
      for (const row of rows) await recordRejection(tx, row);
    });
  }
}

async function recordRejection(tx: Queryable, row: unknown[]): Promise<void> {
  await tx.query(
    `insert into ingest_rejections (network, device, epoch, digest, reason, detail, at)
     select $1, $2, $3, $4, $5, $6, $7
     where (select count(*) from ingest_rejections where device = $2 and epoch = $3) < ${MAX_REJECTIONS_PER_DEVICE_EPOCH}`,
    row,
  );
}

/**
 * The statement that stores accepted reports: seven array parameters (digest, network, device,
 * epoch, type, canonical JSON, received_at), one element per report; returns the digests that
 * were new.
 */
export function insertReportsSql(table = 'reports'): string {
  return `insert into ${table} (digest, network, device, epoch, type, report, received_at)
    select * from unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::bigint[])
    on conflict (digest) do nothing returning digest`;
}

export class EpochClosedError extends Error {
  override name = 'EpochClosedError';
  constructor(readonly epoch: number) {
    super(`epoch ${epoch} is closing: its inputs are frozen`);
  }
}

function refuse(status: number, reason: string, detail: string, digest?: Hex): Refusal {
  return digest ? { ok: false, status, reason, detail, digest } : { ok: false, status, reason, detail };
}
