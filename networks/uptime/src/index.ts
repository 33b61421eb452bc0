// `uptime`: availability rewards, as Render and Storj pay them. At random times in each epoch the
// oracle challenges every registered device with a fresh nonce; the device must send back a report
// naming that nonce, signed with its device key, before the deadline. The score is the share of
// the epoch's challenges answered in time.
import { z } from 'zod';
import {
  type Challenge,
  challengeSchema,
  HexColumn,
  hex32,
  IntColumn,
  type JsonWriter,
  type NetworkPlugin,
  RejectionTable,
  type RowSink,
  type SharedColumn,
  readLowerHexAscii,
  SCORE_SCALE,
  StringColumn,
  signReport,
  type VerifierInput,
  type VerifierOutput,
  writeLowerHex,
} from '@groundwork/protocol';

export const KIND = 'uptime';
export const ANSWER_TYPE = 'uptime.answer';

export const parametersSchema = z
  .object({
    /** Challenges each device gets per epoch. */
    challengesPerEpoch: z.number().int().min(1).max(1000),
    /** Milliseconds a device has to answer a challenge. */
    deadlineMs: z.number().int().min(100).max(600_000),
    /** Basis points of the budget paid by usage (the rest by availability). */
    usageShareBps: z.number().int().min(0).max(10_000),
  })
  .strict();
export type UptimeParameters = z.infer<typeof parametersSchema>;

export const DEFAULT_PARAMETERS: UptimeParameters = {
  challengesPerEpoch: 3,
  deadlineMs: 4_000,
  usageShareBps: 5_000,
};

export const answerBodySchema = z.object({ nonce: hex32 }).strict();

/** A challenge as the oracle recorded it; these are the network's oracle inputs in the artifact. */
export const issuedChallengeSchema = challengeSchema;

/** The challenges the oracle issued in an epoch, as columns (three per device: millions at scale). */
export class ChallengeTable implements RowSink<Challenge> {
  readonly network = new StringColumn();
  readonly device = new HexColumn(32);
  readonly epoch = new IntColumn();
  readonly nonce = new HexColumn(32);
  readonly issuedAt = new IntColumn();
  readonly deadline = new IntColumn();

  get length(): number {
    return this.device.length;
  }

  share(): unknown {
    return {
      network: this.network.share(),
      device: this.device.share(),
      epoch: this.epoch.share(),
      nonce: this.nonce.share(),
      issuedAt: this.issuedAt.share(),
      deadline: this.deadline.share(),
    };
  }

  compact(): void {
    for (const c of [this.network, this.device, this.epoch, this.nonce, this.issuedAt, this.deadline]) c.compact();
  }

  reserve(rows: number): void {
    for (const c of [this.network, this.device, this.epoch, this.nonce, this.issuedAt, this.deadline]) c.reserve(rows);
  }

  static fromShared(s: unknown): ChallengeTable {
    const c = s as Record<string, SharedColumn>;
    const t = new ChallengeTable();
    Object.assign(t, {
      network: StringColumn.fromShared(c.network!),
      device: HexColumn.fromShared(c.device!),
      epoch: IntColumn.fromShared(c.epoch!),
      nonce: HexColumn.fromShared(c.nonce!),
      issuedAt: IntColumn.fromShared(c.issuedAt!),
      deadline: IntColumn.fromShared(c.deadline!),
    });
    return t;
  }

  push(c: Challenge): void {
    this.network.push(c.network);
    this.device.push(c.device);
    this.epoch.push(c.epoch);
    this.nonce.push(c.nonce);
    this.issuedAt.push(c.issuedAt);
    this.deadline.push(c.deadline);
  }

  writeRow(w: JsonWriter, row: number): void {
    w.raw('{"deadline":');
    w.int(this.deadline.get(row));
    w.raw(',"device":');
    w.hex(this.device, row);
    w.raw(',"epoch":');
    w.int(this.epoch.get(row));
    w.raw(',"issuedAt":');
    w.int(this.issuedAt.get(row));
    w.raw(',"network":');
    w.stringOf(this.network, row);
    w.raw(',"nonce":');
    w.hex(this.nonce, row);
    w.raw('}');
  }
}

/** The canonical body of an answer is exactly `{"nonce":"0x` + 64 lowercase hex digits + `"}`. */
const BODY_PREFIX = Buffer.from('{"nonce":"');
const BODY_LENGTH = BODY_PREFIX.length + 66 + 2;

/**
 * The challenges grouped by device: for each snapshot row the challenges issued to it (first copy
 * of each nonce only), and the same by device id for devices not in the snapshot.
 */
type ChallengeIndex = {
  /** Challenge rows of device row d: rows[start[d] .. start[d + 1]). */
  start: Uint32Array;
  rows: Uint32Array;
  /** Challenges of devices that are not in the snapshot, by device id. */
  strangers: Map<string, number[]>;
  /** 1 for a challenge listed again (same device and nonce): it is the same challenge. */
  repeated: Uint8Array;
};

function indexChallenges(input: VerifierInput<UptimeParameters, ChallengeTable>): ChallengeIndex {
  const { devices, oracleInputs: ch } = input;
  const m = ch.length;
  const n = devices.length;
  const rowOf = devices.rowsOf(ch.device);
  const start = new Uint32Array(n + 1);
  const strangers = new Map<string, number[]>();
  for (let c = 0; c < m; c++) {
    const row = rowOf[c]!;
    if (row >= 0) start[row + 1]!++;
    else {
      const id = ch.device.get(c)!;
      const list = strangers.get(id);
      if (list) list.push(c);
      else strangers.set(id, [c]);
    }
  }
  for (let d = 0; d < n; d++) start[d + 1]! += start[d]!;
  const rows = new Uint32Array(start[n]!);
  const fill = start.slice(0, n);
  for (let c = 0; c < m; c++) if (rowOf[c]! >= 0) rows[fill[rowOf[c]!]!++] = c; // in input order within a device
  const repeated = new Uint8Array(m);
  const markRepeats = (list: ArrayLike<number>, from: number, to: number) => {
    for (let i = from + 1; i < to; i++)
      for (let j = from; j < i; j++) {
        if (!repeated[list[j]!] && ch.nonce.equals(list[i]!, ch.nonce, list[j]!)) {
          repeated[list[i]!] = 1;
          break;
        }
      }
  };
  for (let d = 0; d < n; d++) markRepeats(rows, start[d]!, start[d + 1]!);
  for (const list of strangers.values()) markRepeats(list, 0, list.length);
  return { start, rows, strangers, repeated };
}

/**
 * Scores every device by the share of its challenges answered in time. Each answer that does not
 * count is listed with its reason, and so is each challenge that got no valid answer.
 */
export function verifyUptime(input: VerifierInput<UptimeParameters, ChallengeTable>): VerifierOutput {
  const { devices, reports, order, deviceRows, oracleInputs: ch } = input;
  const index = indexChallenges(input);
  const answered = new Uint8Array(ch.length);
  const answeredBy = new Uint32Array(devices.length);
  const rejections = new RejectionTable();
  const deviceOf = (r: number) => reports.device.get(r);
  const digestOf = (r: number) => reports.digest.get(r);
  const nonceOf = (r: number) => (JSON.parse(reports.body.get(r)) as { nonce: string }).nonce;
  const messages: string[] = [];
  const unknownType = rejections.kind({
    reason: 'unknown-type',
    device: deviceOf,
    digest: digestOf,
    detail: (r) => `uptime takes only ${ANSWER_TYPE} reports, got ${reports.type.get(r)}`,
  });
  const malformed = rejections.kind({ reason: 'malformed-body', device: deviceOf, digest: digestOf, detail: (_r, m) => messages[m]! });
  const unknownChallenge = rejections.kind({
    reason: 'unknown-challenge',
    device: deviceOf,
    digest: digestOf,
    detail: (r) => `nonce ${nonceOf(r)} was not issued to this device in epoch ${input.epoch} (a replayed or invented answer)`,
  });
  const duplicate = rejections.kind({
    reason: 'duplicate-answer',
    device: deviceOf,
    digest: digestOf,
    detail: (_r, c) => `challenge ${ch.nonce.get(c)} was already answered`,
  });
  const late = rejections.kind({
    reason: 'late',
    device: deviceOf,
    digest: digestOf,
    detail: (r, c) => `received ${reports.receivedAt.get(r) - ch.deadline.get(c)} ms after the deadline (${ch.deadline.get(c)})`,
    write: (w, r, c) => {
      w.raw('{"detail":"received ');
      w.int(reports.receivedAt.get(r) - ch.deadline.get(c));
      w.raw(' ms after the deadline (');
      w.int(ch.deadline.get(c));
      w.raw(')","device":');
      w.hex(reports.device, r);
      w.raw(',"digest":');
      w.hex(reports.digest, r);
      w.raw(',"reason":"late"}');
    },
  });
  // Every challenge nobody answered: a million devices leave millions of these.
  const unanswered = rejections.kind({
    reason: 'unanswered',
    device: (c) => ch.device.get(c),
    digest: () => null,
    detail: (c) => `challenge ${ch.nonce.get(c)} issued at ${ch.issuedAt.get(c)} got no valid answer by its deadline ${ch.deadline.get(c)}`,
    write: (w, c) => {
      w.raw('{"detail":"challenge 0x');
      w.hexDigits(ch.nonce, c);
      w.raw(' issued at ');
      w.int(ch.issuedAt.get(c));
      w.raw(' got no valid answer by its deadline ');
      w.int(ch.deadline.get(c));
      w.raw('","device":');
      w.hex(ch.device, c);
      w.raw(',"digest":null,"reason":"unanswered"}');
    },
  });

  const nonce = new HexColumn(32, false, 1);
  nonce.push(`0x${'00'.repeat(32)}`);
  const answerType = reports.type.codeOf(ANSWER_TYPE);
  for (const r of order) {
    if (reports.type.code(r) !== answerType) {
      rejections.add(unknownType, r);
      continue;
    }
    const problem = readNonce(reports.body.bytesOf(r), nonce);
    if (problem !== null) {
      messages.push(problem);
      rejections.add(malformed, r, messages.length - 1);
      continue;
    }
    const row = deviceRows[r]!;
    const c = findChallenge(index, row, () => reports.device.get(r)!, ch, nonce);
    if (c < 0) rejections.add(unknownChallenge, r);
    else if (answered[c]) rejections.add(duplicate, r, c);
    else if (reports.receivedAt.get(r) > ch.deadline.get(c)) rejections.add(late, r, c);
    else {
      answered[c] = 1;
      if (row >= 0) answeredBy[row]!++;
    }
  }
  for (let c = 0; c < ch.length; c++) if (!index.repeated[c] && !answered[c]) rejections.add(unanswered, c);

  const scores = new Uint32Array(devices.length);
  const issued = new Uint32Array(devices.length);
  for (let d = 0; d < devices.length; d++) {
    let n = 0;
    for (let k = index.start[d]!; k < index.start[d + 1]!; k++) if (!index.repeated[index.rows[k]!]) n++;
    issued[d] = n;
    scores[d] = n === 0 ? 0 : Math.floor((answeredBy[d]! * Number(SCORE_SCALE)) / n);
  }
  return { scores, detail: { challenges: issued, answered: answeredBy }, rejections };
}

/** Reads an answer's nonce into `into`; null if the body is well formed, else the reason it is not. */
function readNonce(body: Uint8Array, into: HexColumn): string | null {
  // Fast path: the canonical body of a well-formed answer has one exact shape.
  if (body.length === BODY_LENGTH && body[BODY_LENGTH - 2] === 0x22 && body[BODY_LENGTH - 1] === 0x7d) {
    let prefix = true;
    for (let i = 0; i < BODY_PREFIX.length; i++) if (body[i] !== BODY_PREFIX[i]) prefix = false;
    // "0x" then 64 digits
    if (
      prefix &&
      body[BODY_PREFIX.length] === 0x30 &&
      body[BODY_PREFIX.length + 1] === 0x78 &&
      readLowerHexAscii(body, BODY_PREFIX.length + 2, 32, into.bytes, 0)
    )
      return null;
  }
  const parsed = answerBodySchema.safeParse(JSON.parse(Buffer.from(body).toString('utf8')));
  if (!parsed.success) return parsed.error.issues[0]?.message ?? 'bad body';
  writeLowerHex(parsed.data.nonce, 32, into.bytes, 0);
  return null;
}

/** The first copy of the challenge with this nonce issued to the report's device, or -1. */
function findChallenge(index: ChallengeIndex, row: number, id: () => string, ch: ChallengeTable, nonce: HexColumn): number {
  if (row >= 0) {
    for (let k = index.start[row]!; k < index.start[row + 1]!; k++) {
      const c = index.rows[k]!;
      if (!index.repeated[c] && ch.nonce.equals(c, nonce, 0)) return c;
    }
    return -1;
  }
  for (const c of index.strangers.get(id()) ?? []) if (!index.repeated[c] && ch.nonce.equals(c, nonce, 0)) return c;
  return -1;
}

/** Random issue times spread over the epoch, each leaving the deadline inside the epoch. */
export function planChallenges(args: { startMs: number; endMs: number; parameters: UptimeParameters; random: () => number }): number[] {
  const { startMs, endMs, parameters } = args;
  const latest = endMs - parameters.deadlineMs - 500;
  if (latest <= startMs) return [startMs];
  const slot = (latest - startMs) / parameters.challengesPerEpoch;
  // One challenge at a random moment in each slot: unpredictable, yet spread over the whole epoch.
  return Array.from({ length: parameters.challengesPerEpoch }, (_, i) => Math.floor(startMs + slot * i + args.random() * slot));
}

export const uptimeNetwork: NetworkPlugin<UptimeParameters, ChallengeTable> = {
  kind: KIND,
  description: 'availability: answer random signed challenges in time (Render and Storj availability rewards)',
  parameters: {
    schema: parametersSchema,
    defaults: DEFAULT_PARAMETERS,
    references: {
      challengesPerEpoch: 'Storj checks node availability by contacting nodes at random; 3 per 30 s devnet epoch',
      deadlineMs: 'Helium PoC: a witness counts only if reported within 4,000 ms of the beacon',
      usageShareBps: 'Helium: data transfer takes up to 50% of rewards, the unused part flows back to proof',
    },
  },
  reportTypes: { [ANSWER_TYPE]: answerBodySchema },
  oracleInputs: { row: issuedChallengeSchema, table: () => new ChallengeTable(), fromShared: (s) => ChallengeTable.fromShared(s) },
  verify: verifyUptime,
  usageShareBps: (p) => p.usageShareBps,
  challenger: {
    plan: planChallenges,
    deadlineMs: (p) => p.deadlineMs,
  },
  worker: {
    onChallenge(challenge, ctx) {
      return signReport(
        {
          v: 1,
          ...ctx.domain,
          network: KIND,
          type: ANSWER_TYPE,
          device: ctx.device,
          epoch: challenge.epoch,
          body: { nonce: challenge.nonce },
        },
        ctx.key,
      );
    },
  },
};

export default uptimeNetwork;
