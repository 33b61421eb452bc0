// An epoch's inputs as tables: one row per device, report, rejection, usage entry or prior
// amount, each field a typed column (columns.ts). This is what the epoch close computes on and
// what the artifact is written from and read back into, so that a million devices never become a
// million objects. Every table writes its rows in the artifact's canonical encoding (sorted keys),
// byte for byte what canonicalJson gives for the same row as an object.
import { createHash } from 'node:crypto';
import type { Address, Hex } from 'viem';
import { HexColumn, IntColumn, type SharedColumn, StringColumn, TextColumn } from './columns.ts';
import { canonicalJson } from './encoding.ts';
import { JsonWriter } from './json-writer.ts';
import type { AcceptedReport, DeviceSnapshot, Rejection } from './network.ts';
import type { Report } from './schemas.ts';

/** Whether a column's values never decrease from row to row. */
function ascending(ids: HexColumn): boolean {
  for (let i = 1; i < ids.length; i++) if (ids.compare(i - 1, ids, i) > 0) return false;
  return true;
}

/** A table of rows the artifact holds as one JSON array. */
export interface RowTable {
  readonly length: number;
  /** Writes row `row` as its canonical JSON object. */
  writeRow(w: JsonWriter, row: number): void;
}

/** A table rows can be added to, as parsed from the artifact (already checked by its schema) or read from the oracle. */
export interface RowSink<Row> extends RowTable {
  push(row: Row): void;
  /** The table as another thread can take it (columns in shared memory, other rows copied). */
  share(): unknown;
  /** Moves its columns into shared memory of exactly their size: call once the table is complete. */
  compact?(): void;
  /** Makes room for `rows` rows in all, so that filling the table leaves no garbage. */
  reserve?(rows: number): void;
}

function compactColumns<T extends object>(table: T, names: readonly (keyof T & string)[]): void {
  for (const name of names) (table[name] as { compact(): void }).compact();
}

/** A table's columns as another thread receives them. */
type SharedColumns = Record<string, SharedColumn>;

function shareColumns<T extends object>(table: T, names: readonly (keyof T & string)[]): SharedColumns {
  const out: SharedColumns = {};
  for (const name of names) out[name] = (table[name] as { share(): SharedColumn }).share();
  return out;
}

/**
 * Rows kept as objects and written with canonicalJson: for small tables, and for plug-ins that do
 * not need columns. Each row must be canonically encodable (integers only, no undefined).
 */
export class ObjectRows<Row> implements RowSink<Row> {
  readonly rows: Row[] = [];
  get length(): number {
    return this.rows.length;
  }
  push(row: Row): void {
    this.rows.push(row);
  }
  share(): unknown {
    return this.rows;
  }
  static fromShared<Row>(rows: unknown): ObjectRows<Row> {
    const t = new ObjectRows<Row>();
    t.rows.push(...(rows as Row[]));
    return t;
  }
  writeRow(w: JsonWriter, row: number): void {
    w.json(canonicalJson(this.rows[row]));
  }
}

/** Encodes small documents into one reusable buffer (a report's signing bytes, its digest preimage). */
export class ScratchEncoder {
  private chunks: Uint8Array[] = [];
  private readonly w = new JsonWriter((chunk) => this.chunks.push(Uint8Array.from(chunk)), 64 * 1024);

  /** The bytes `write` writes; valid until the next call. */
  encode(write: (w: JsonWriter) => void): Uint8Array {
    this.chunks = [];
    write(this.w);
    this.w.flush();
    if (this.chunks.length === 1) return this.chunks[0]!;
    return Buffer.concat(this.chunks);
  }
}

/** The registered devices of one network at the snapshot block, in the order given (the oracle's: by id). */
export class DeviceTable implements RowSink<DeviceSnapshot> {
  readonly device = new HexColumn(32);
  readonly keyX = new HexColumn(32);
  readonly keyY = new HexColumn(32);
  readonly network = new StringColumn();
  readonly owner = new StringColumn();
  readonly registeredAt = new IntColumn();
  readonly stake = new StringColumn();
  private hash: { slots: Int32Array; mask: number; duplicate: number } | null = null;
  private static readonly COLUMNS = ['device', 'keyX', 'keyY', 'network', 'owner', 'registeredAt', 'stake'] as const;

  share(): unknown {
    return shareColumns(this, DeviceTable.COLUMNS);
  }

  compact(): void {
    compactColumns(this, DeviceTable.COLUMNS);
  }

  /** Room for `rows` devices in all (when the count is known first: filling then leaves no garbage). */
  reserve(rows: number): void {
    for (const name of DeviceTable.COLUMNS) this[name].reserve(rows);
  }

  static fromShared(s: unknown): DeviceTable {
    const c = s as SharedColumns;
    const t = new DeviceTable();
    Object.assign(t, {
      device: HexColumn.fromShared(c.device!),
      keyX: HexColumn.fromShared(c.keyX!),
      keyY: HexColumn.fromShared(c.keyY!),
      network: StringColumn.fromShared(c.network!),
      owner: StringColumn.fromShared(c.owner!),
      registeredAt: IntColumn.fromShared(c.registeredAt!),
      stake: StringColumn.fromShared(c.stake!),
    });
    return t;
  }

  get length(): number {
    return this.device.length;
  }

  push(d: DeviceSnapshot): void {
    this.device.push(d.device);
    this.keyX.push(d.keyX);
    this.keyY.push(d.keyY);
    this.network.push(d.network);
    this.owner.push(d.owner);
    this.registeredAt.push(d.registeredAt);
    this.stake.push(d.stake);
    this.hash = null;
    this.sortedById = null;
  }

  snapshot(row: number): DeviceSnapshot {
    return {
      device: this.device.get(row)!,
      owner: this.owner.get(row) as Address,
      network: this.network.get(row),
      keyX: this.keyX.get(row)!,
      keyY: this.keyY.get(row)!,
      stake: this.stake.get(row),
      registeredAt: this.registeredAt.get(row),
    };
  }

  writeRow(w: JsonWriter, row: number): void {
    w.raw('{"device":');
    w.hex(this.device, row);
    w.raw(',"keyX":');
    w.hex(this.keyX, row);
    w.raw(',"keyY":');
    w.hex(this.keyY, row);
    w.raw(',"network":');
    w.stringOf(this.network, row);
    w.raw(',"owner":');
    w.string(this.owner.get(row)); // owners are mostly distinct: no literal per owner kept
    w.raw(',"registeredAt":');
    w.int(this.registeredAt.get(row));
    w.raw(',"stake":');
    w.stringOf(this.stake, row);
    w.raw('}');
  }

  /**
   * An open-addressing hash of the rows, keyed by the first four bytes of each id (uniform for
   * ids that are hashes): a lookup is one or two probes, where a binary search over a million ids
   * is twenty. Built on first use; `duplicate` is a row whose id an earlier row has, or -1.
   */
  private index(): { slots: Int32Array; mask: number; duplicate: number } {
    if (this.hash) return this.hash;
    const n = this.length;
    let size = 16;
    while (size < 2 * n) size *= 2;
    // Slot s holds (prefix, row) at 2s and 2s+1: a probe reads one cache line, and a slot of
    // another prefix is passed without touching that row's id.
    const slots = new Int32Array(2 * size).fill(-1);
    const mask = size - 1;
    let duplicate = -1;
    for (let row = 0; row < n; row++) {
      const prefix = this.device.prefix(row) | 0;
      for (let s = Math.imul(prefix, 0x9e3779b1) >>> 0; ; s++) {
        const at = 2 * (s & mask);
        const other = slots[at + 1]!;
        if (other < 0) {
          slots[at] = prefix;
          slots[at + 1] = row;
          break;
        }
        if (duplicate < 0 && slots[at] === prefix && this.device.equals(other, this.device, row)) duplicate = row;
      }
    }
    this.hash = { slots, mask, duplicate };
    return this.hash;
  }

  /** A row whose device id is listed before, or -1 if every id is listed once. */
  duplicateRow(): number {
    return this.index().duplicate;
  }

  /** The first row whose device id equals row `row` of `ids` (a 32-byte column), or -1. */
  rowOf(ids: HexColumn, row: number): number {
    const { slots, mask } = this.hash ?? this.index();
    const prefix = ids.prefix(row) | 0;
    for (let s = Math.imul(prefix, 0x9e3779b1) >>> 0; ; s++) {
      const at = 2 * (s & mask);
      const found = slots[at + 1]!;
      if (found < 0) return -1;
      if (slots[at] === prefix && this.device.equals(found, ids, row)) return found;
    }
  }

  /**
   * The device row of every row of `ids` (-1 where that id is not in the table). When both lists
   * are in id order (the oracle lists devices, challenges and reports by device) this is one
   * merge that reads both in order; otherwise one hash lookup per row, each a few random reads,
   * which at millions of rows is what the close spends its time on.
   */
  rowsOf(ids: HexColumn): Int32Array {
    const m = ids.length;
    const out = new Int32Array(m);
    if (this.ascending() && ascending(ids)) {
      const n = this.length;
      let d = 0;
      for (let i = 0; i < m; i++) {
        while (d < n && this.device.compare(d, ids, i) < 0) d++;
        out[i] = d < n && this.device.equals(d, ids, i) ? d : -1;
      }
      return out;
    }
    for (let i = 0; i < m; i++) out[i] = this.rowOf(ids, i);
    return out;
  }

  private sortedById: boolean | null = null;

  /** Whether the rows are in increasing id order. */
  private ascending(): boolean {
    this.sortedById ??= ascending(this.device);
    return this.sortedById;
  }

  /** The first row of device `id`, or -1. */
  rowOfId(id: string): number {
    const probe = new HexColumn(32, false, 1);
    try {
      probe.push(id);
    } catch {
      return -1;
    }
    return this.rowOf(probe, 0);
  }
}

/** The reports ingest accepted, with their digests and receive times. */
export class ReportTable implements RowSink<AcceptedReport> {
  readonly digest = new HexColumn(32);
  readonly receivedAt = new IntColumn();
  /** Each report's body as its canonical JSON. */
  readonly body = new TextColumn();
  readonly chainId = new IntColumn();
  readonly device = new HexColumn(32);
  readonly epoch = new IntColumn();
  readonly network = new StringColumn();
  readonly registry = new StringColumn();
  readonly sig = new HexColumn(64);
  readonly type = new StringColumn();
  readonly v = new IntColumn();
  private readonly scratch = new ScratchEncoder();
  private static readonly COLUMNS = [
    'digest',
    'receivedAt',
    'body',
    'chainId',
    'device',
    'epoch',
    'network',
    'registry',
    'sig',
    'type',
    'v',
  ] as const;

  share(): unknown {
    return shareColumns(this, ReportTable.COLUMNS);
  }

  compact(): void {
    compactColumns(this, ReportTable.COLUMNS);
  }

  /** Room for `rows` reports in all, with `bodyBytes` bytes of bodies (by default 96 each). */
  reserve(rows: number, bodyBytes = 96 * rows): void {
    for (const name of ReportTable.COLUMNS) {
      if (name === 'body') this.body.reserve(rows, bodyBytes);
      else this[name].reserve(rows);
    }
  }

  static fromShared(s: unknown): ReportTable {
    const c = s as SharedColumns;
    const t = new ReportTable();
    Object.assign(t, {
      digest: HexColumn.fromShared(c.digest!),
      receivedAt: IntColumn.fromShared(c.receivedAt!),
      body: TextColumn.fromShared(c.body!),
      chainId: IntColumn.fromShared(c.chainId!),
      device: HexColumn.fromShared(c.device!),
      epoch: IntColumn.fromShared(c.epoch!),
      network: StringColumn.fromShared(c.network!),
      registry: StringColumn.fromShared(c.registry!),
      sig: HexColumn.fromShared(c.sig!),
      type: StringColumn.fromShared(c.type!),
      v: IntColumn.fromShared(c.v!),
    });
    return t;
  }

  get length(): number {
    return this.digest.length;
  }

  push(r: AcceptedReport): void {
    const report = r.report;
    this.digest.push(r.digest);
    this.receivedAt.push(r.receivedAt);
    this.body.push(canonicalJson(report.body));
    this.chainId.push(report.chainId);
    this.device.push(report.device);
    this.epoch.push(report.epoch);
    this.network.push(report.network);
    this.registry.push(report.registry);
    this.sig.push(report.sig);
    this.type.push(report.type);
    this.v.push(report.v);
  }

  /** The report as an object (parses its body). */
  report(row: number): Report {
    return {
      v: this.v.get(row) as 1,
      chainId: this.chainId.get(row),
      registry: this.registry.get(row) as Address,
      network: this.network.get(row),
      type: this.type.get(row),
      device: this.device.get(row)!,
      epoch: this.epoch.get(row),
      body: JSON.parse(this.body.get(row)) as Record<string, unknown>,
      sig: this.sig.get(row)!,
    };
  }

  accepted(row: number): AcceptedReport {
    return { report: this.report(row), digest: this.digest.get(row)!, receivedAt: this.receivedAt.get(row) };
  }

  /** The report object, with its signature or, for signing, with `purpose` in its place. */
  private writeReport(w: JsonWriter, row: number, signing: boolean): void {
    w.raw('{"body":');
    w.bytes(this.body.bytesOf(row));
    w.raw(',"chainId":');
    w.int(this.chainId.get(row));
    w.raw(',"device":');
    w.hex(this.device, row);
    w.raw(',"epoch":');
    w.int(this.epoch.get(row));
    w.raw(',"network":');
    w.stringOf(this.network, row);
    if (signing) w.raw(',"purpose":"groundwork/report"');
    w.raw(',"registry":');
    w.stringOf(this.registry, row);
    if (!signing) {
      w.raw(',"sig":');
      w.hex(this.sig, row);
    }
    w.raw(',"type":');
    w.stringOf(this.type, row);
    w.raw(',"v":');
    w.int(this.v.get(row));
    w.raw('}');
  }

  writeRow(w: JsonWriter, row: number): void {
    w.raw('{"digest":');
    w.hex(this.digest, row);
    w.raw(',"receivedAt":');
    w.int(this.receivedAt.get(row));
    w.raw(',"report":');
    this.writeReport(w, row, false);
    w.raw('}');
  }

  /** What the device signed (reportSigningBytes of the report); valid until the next call. */
  signingBytes(row: number): Uint8Array {
    return this.scratch.encode((w) => this.writeReport(w, row, true));
  }

  /** sha256 of the report's canonical encoding with its signature: what its digest must be. */
  computedDigest(row: number): Hex {
    const bytes = this.scratch.encode((w) => this.writeReport(w, row, false));
    return `0x${createHash('sha256').update(bytes).digest('hex')}`;
  }

  /** Rows in receive order, ties by digest: the order a result cannot depend on how reports were listed. */
  receiveOrder(rows?: Uint32Array): Uint32Array {
    const order = rows ? Uint32Array.from(rows) : Uint32Array.from({ length: this.length }, (_, i) => i);
    const t = this.receivedAt.values;
    order.sort((a, b) => t[a]! - t[b]! || this.digest.compare(a, this.digest, b));
    return order;
  }
}

/**
 * How the rows of one kind of rejection are described, from two numbers stored per rejection
 * (typically rows of the tables the verifier read): a million unanswered challenges cost nine
 * bytes each until the artifact is written, not three strings.
 */
export type RejectionKind = {
  reason: string;
  device(a: number, b: number): Hex | null;
  digest(a: number, b: number): Hex | null;
  detail(a: number, b: number): string;
  /**
   * Optional, for kinds there are millions of: writes the row's canonical JSON straight from the
   * columns, byte for byte what the four functions above encode to (the golden artifacts and
   * `epoch verify` both catch a difference).
   */
  write?(w: JsonWriter, a: number, b: number): void;
};

/** Rejections in the order they were added: given whole, or as a kind and two numbers. */
export class RejectionTable implements RowSink<Rejection> {
  private readonly kinds: RejectionKind[] = [];
  private kindOf = new Uint16Array(16);
  private a = new Int32Array(16);
  private b = new Int32Array(16);
  private readonly given: Rejection[] = [];
  length = 0;

  /** Registers a kind of rejection; returns its id for `add`. */
  kind(spec: RejectionKind): number {
    if (this.kinds.length >= 65_535) throw new RangeError('too many rejection kinds');
    this.kinds.push(spec);
    return this.kinds.length; // 0 is "given whole"
  }

  private room(): void {
    if (this.length < this.a.length) return;
    const n = this.a.length * 2;
    const kindOf = new Uint16Array(n);
    kindOf.set(this.kindOf);
    const a = new Int32Array(n);
    a.set(this.a);
    const b = new Int32Array(n);
    b.set(this.b);
    this.kindOf = kindOf;
    this.a = a;
    this.b = b;
  }

  /** Only rejections given whole can go to another thread (a kind's functions cannot). */
  share(): unknown {
    if (this.kinds.length) throw new Error('a rejection table with kinds cannot be shared');
    return this.given;
  }

  static fromShared(s: unknown): RejectionTable {
    const t = new RejectionTable();
    for (const r of s as Rejection[]) t.push(r);
    return t;
  }

  push(r: Rejection): void {
    this.room();
    this.kindOf[this.length] = 0;
    this.a[this.length] = this.given.length;
    this.given.push(r);
    this.length++;
  }

  add(kind: number, a: number, b = 0): void {
    this.room();
    this.kindOf[this.length] = kind;
    this.a[this.length] = a;
    this.b[this.length] = b;
    this.length++;
  }

  get(row: number): Rejection {
    const k = this.kindOf[row]!;
    if (k === 0) return this.given[this.a[row]!]!;
    const spec = this.kinds[k - 1]!;
    const a = this.a[row]!;
    const b = this.b[row]!;
    return { device: spec.device(a, b), digest: spec.digest(a, b), reason: spec.reason, detail: spec.detail(a, b) };
  }

  /** The reason of row `row`, without building the rest of it. */
  reason(row: number): string {
    const k = this.kindOf[row]!;
    return k === 0 ? this.given[this.a[row]!]!.reason : this.kinds[k - 1]!.reason;
  }

  writeRow(w: JsonWriter, row: number): void {
    const k = this.kindOf[row]!;
    const write = k === 0 ? undefined : this.kinds[k - 1]!.write;
    if (write) {
      write(w, this.a[row]!, this.b[row]!);
      return;
    }
    const r = this.get(row);
    w.raw('{"detail":');
    w.string(r.detail);
    w.raw(',"device":');
    if (r.device === null) w.null();
    else w.string(r.device);
    w.raw(',"digest":');
    if (r.digest === null) w.null();
    else w.string(r.digest);
    w.raw(',"reason":');
    w.string(r.reason);
    w.raw('}');
  }
}

/** Credits spent on each device's service during the epoch (few rows: kept as given). */
export class UsageRows implements RowSink<{ device: Hex; credits: string }> {
  readonly rows: { device: Hex; credits: string }[] = [];
  get length(): number {
    return this.rows.length;
  }
  push(row: { device: Hex; credits: string }): void {
    this.rows.push({ device: row.device, credits: row.credits });
  }
  share(): unknown {
    return this.rows;
  }
  static fromShared(s: unknown): UsageRows {
    const t = new UsageRows();
    for (const r of s as { device: Hex; credits: string }[]) t.push(r);
    return t;
  }
  writeRow(w: JsonWriter, row: number): void {
    const r = this.rows[row]!;
    w.raw(`{"credits":"${r.credits}","device":"${r.device}"}`);
  }
}

/** Amounts per account (the prior cumulative amounts): lowercase 20-byte accounts and bigints. */
export class AccountAmounts implements RowSink<{ account: string; amount: string }> {
  readonly accounts = new HexColumn(20);
  readonly amounts: bigint[] = [];
  get length(): number {
    return this.amounts.length;
  }
  push(row: { account: string; amount: string }): void {
    this.accounts.push(row.account);
    this.amounts.push(BigInt(row.amount));
  }
  share(): unknown {
    return { accounts: this.accounts.share(), amounts: this.amounts };
  }
  static fromShared(s: unknown): AccountAmounts {
    const { accounts, amounts } = s as { accounts: SharedColumn; amounts: bigint[] };
    const t = new AccountAmounts();
    Object.assign(t, { accounts: HexColumn.fromShared(accounts) });
    t.amounts.push(...amounts);
    return t;
  }
  writeRow(w: JsonWriter, row: number): void {
    w.raw('{"account":');
    w.hex(this.accounts, row);
    w.raw(',"amount":');
    w.decimal(this.amounts[row]!);
    w.raw('}');
  }
}
