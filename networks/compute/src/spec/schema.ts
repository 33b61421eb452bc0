// The job spec's document as zod schemas: the shape (strict objects, so a misspelt field is an
// error rather than silently ignored) and the per-field parsing of sizes, counts, durations,
// task forms and file references. What needs more than one field or the outside world (input
// names against each other, the deadline against the clock, files on disk) is checked in
// index.ts. docs/job-spec.md documents every field; keep the two in step.
import { z } from 'zod';
import { CidError, parseCid } from '@groundwork/protocol';
import { describeValue, formatBytes, looksLikeIsoTime, parseCount, parseDuration, parseFixed, parseIsoTime, parseSize } from './units.ts';

/** The only version this code reads; a future incompatible format gets a new one. */
export const JOB_VERSION = 'groundwork/job@1';

const MiB = 1024 * 1024;

/** Limits on one job. Each bounds the work one spec can ask of the oracle and of a provider. */
export const JOB_LIMITS = {
  /** Bytes of the YAML text itself. */
  maxSpecBytes: MiB,
  /** Tasks in one job: each is a queue entry, an escrow line and a result to check. */
  maxTasks: 10_000,
  /** Bytes of the program (WebAssembly module). */
  maxProgramBytes: 64 * MiB,
  /** Bytes of stdin plus inputs, each distinct content counted once (it is fetched once). */
  maxInputBytes: 64 * MiB,
  /** Files under /input. */
  maxInputs: 1000,
  /** Bytes of one input's name (its path under /input). */
  maxInputNameBytes: 255,
  /** One WebAssembly page: the least memory a module can have. */
  minMemoryBytes: 65_536,
  /** 4 GiB: the most a 32-bit memory can address (sandbox/policy.ts MAX_MEMORY_BYTES). */
  maxMemoryBytes: 4 * 1024 * MiB,
  /** Compute units per task. Bounds how long one task can hold a provider's core. */
  maxFuel: 1e13,
  /** Bytes one task may write under /output. */
  maxOutputBytes: 1024 * MiB,
  /** The deadline must leave at least this long: matching, fetching and running take time. */
  minDeadlineMs: 60_000,
  /** At most a week ahead: escrow is not held open for longer. */
  maxDeadlineMs: 7 * 86_400_000,
  /** Credits per million compute units. */
  maxPrice: 1000,
  /** maxPrice is exact to a millionth of a credit per million compute units. */
  priceDecimals: 6,
  /** spotCheck is exact to a basis point (0.0001). */
  spotCheckDecimals: 4,
  maxRedundancy: 5,
  maxArgs: 256,
  /** Bytes of one argument, before and after {task} is substituted. */
  maxArgBytes: 4096,
  maxEnv: 64,
  maxEnvValueBytes: 4096,
  maxAttributes: 16,
  /** Characters of one listed task value. */
  maxTaskValueLength: 256,
} as const;

export const DEFAULTS = {
  /** The sandbox's default memory cap (sandbox/policy.ts DEFAULT_LIMITS). */
  memoryBytes: 256 * MiB,
  /** The sandbox's default /output cap. */
  outputBytes: 64 * MiB,
  deadlineMs: 3_600_000,
  spotCheck: 0.1,
  redundancy: 1,
} as const;

type Ctx = z.core.$RefinementCtx;

function issue(ctx: Ctx, message: string, path?: (string | number)[]): typeof z.NEVER {
  ctx.addIssue({ code: 'custom', message, ...(path ? { path } : {}) });
  return z.NEVER;
}

const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');

/** A string, with a hint to quote it when YAML read the value as something else. */
const text = (what: string, maxBytes: number) =>
  z.unknown().transform((v, ctx) => {
    if (typeof v !== 'string') {
      if (typeof v === 'number' || typeof v === 'boolean')
        return issue(ctx, `expected ${what} as a string, got the ${typeof v} ${v} (quote it: "${v}")`);
      return issue(ctx, `expected ${what} as a string, got ${describeValue(v)}`);
    }
    if (v.includes('\0')) return issue(ctx, 'contains a NUL character');
    if (utf8Length(v) > maxBytes) return issue(ctx, `is ${utf8Length(v)} bytes; at most ${maxBytes}`);
    return v;
  });

/** A size with bounds; the message quotes what the consumer wrote ("5GiB exceeds the 4GiB cap"). */
const size = (min: number, max: number) =>
  z.unknown().transform((v, ctx) => {
    const r = parseSize(v);
    if (!r.ok) return issue(ctx, r.message);
    const shown = typeof v === 'string' ? v.trim() : formatBytes(r.value);
    if (r.value > max) return issue(ctx, `${shown} exceeds the ${formatBytes(max)} cap`);
    if (r.value < min) return issue(ctx, `${shown} is below the ${formatBytes(min)} minimum`);
    return r.value;
  });

const fuel = z.unknown().transform((v, ctx) => {
  if (v === undefined) return issue(ctx, 'is required: the compute units each task may use (e.g. 2e9); it bounds the cost');
  const r = parseCount(v);
  if (!r.ok) return issue(ctx, r.message);
  if (r.value < 1) return issue(ctx, 'must be at least 1');
  if (r.value > JOB_LIMITS.maxFuel) return issue(ctx, `${v} exceeds the ${JOB_LIMITS.maxFuel.toExponential()} cap`);
  return r.value;
});

/** A file: a path (relative to the spec's directory) or content already uploaded, by CID. */
export type RawFileRef = { path: string } | { cid: string; size: number | null };

/** `requireSize`: inputs need a declared size so their total can be checked before fetching. */
const fileRef = (requireSize: boolean) =>
  z.unknown().transform((v, ctx): RawFileRef => {
    if (v === undefined) return issue(ctx, 'is required: a path to a WebAssembly module, or { cid: … } of one already uploaded');
    if (typeof v === 'string') {
      if (v.trim() === '') return issue(ctx, 'is an empty path');
      if (v.includes('\0')) return issue(ctx, 'contains a NUL character');
      return { path: v };
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      return issue(ctx, `expected a file path or { cid: … }, got ${describeValue(v)}`);
    const o = v as Record<string, unknown>;
    let bad = false;
    for (const key of Object.keys(o)) {
      if (key !== 'cid' && key !== 'size') {
        issue(ctx, 'unknown field (a file by CID has cid and size)', [key]);
        bad = true;
      }
    }
    if (typeof o.cid !== 'string') {
      issue(ctx, o.cid === undefined ? 'is required' : `expected a CID string, got ${describeValue(o.cid)}`, ['cid']);
      bad = true;
    } else {
      try {
        parseCid(o.cid);
      } catch (err) {
        if (!(err instanceof CidError)) throw err;
        issue(ctx, err.message, ['cid']);
        bad = true;
      }
    }
    let bytes: number | null = null;
    if (o.size === undefined) {
      if (requireSize) {
        issue(ctx, 'is required for a file given by CID (its total with the others is checked before anything is fetched)', ['size']);
        bad = true;
      }
    } else {
      const r = parseSize(o.size);
      if (!r.ok) {
        issue(ctx, r.message, ['size']);
        bad = true;
      } else bytes = r.value;
    }
    if (bad) return z.NEVER;
    return { cid: o.cid as string, size: bytes };
  });

/** The task set as written: its form (for messages and the doc) and each task's value. */
export type RawTasks = { form: 'count' | 'range' | 'list'; values: string[] };

function countTasks(n: number, shown: string, ctx: Ctx): RawTasks {
  if (!Number.isSafeInteger(n) || n < 1) return issue(ctx, `${shown} is not a task count (a whole number from 1)`);
  if (n > JOB_LIMITS.maxTasks)
    return issue(ctx, `${shown} is ${n.toLocaleString('en-US')} tasks; a job has at most ${JOB_LIMITS.maxTasks.toLocaleString('en-US')}`);
  return { form: 'count', values: Array.from({ length: n }, (_, i) => String(i)) };
}

const tasks = z.unknown().transform((v, ctx): RawTasks => {
  if (typeof v === 'number') return countTasks(v, String(v), ctx);
  if (typeof v === 'string') {
    const t = v.trim();
    if (/^\d+$/.test(t)) return countTasks(Number(t), JSON.stringify(v), ctx);
    const m = /^(\d+)\s*-\s*(\d+)$/.exec(t);
    if (!m) return issue(ctx, `${JSON.stringify(v)} is not a count, a range "a-b" or a list`);
    const a = Number(m[1]);
    const b = Number(m[2]);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) return issue(ctx, `${JSON.stringify(v)} has bounds beyond 2^53`);
    if (b < a) return issue(ctx, `${JSON.stringify(v)} ends before it starts`);
    const n = b - a + 1;
    if (n > JOB_LIMITS.maxTasks)
      return issue(
        ctx,
        `${JSON.stringify(v)} is ${n.toLocaleString('en-US')} tasks; a job has at most ${JOB_LIMITS.maxTasks.toLocaleString('en-US')}`,
      );
    return { form: 'range', values: Array.from({ length: n }, (_, i) => String(a + i)) };
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return issue(ctx, 'lists no tasks (omit tasks for a single task)');
    if (v.length > JOB_LIMITS.maxTasks)
      return issue(
        ctx,
        `lists ${v.length.toLocaleString('en-US')} tasks; a job has at most ${JOB_LIMITS.maxTasks.toLocaleString('en-US')}`,
      );
    const values: string[] = [];
    const seen = new Map<string, number>();
    let bad = false;
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      if (typeof item !== 'string' && !(typeof item === 'number' && Number.isFinite(item))) {
        issue(ctx, `expected a string or a number, got ${describeValue(item)}`, [i]);
        bad = true;
        continue;
      }
      const value = String(item);
      const first = seen.get(value);
      let problem: string | null = null;
      if (value.includes('\0')) problem = 'contains a NUL character';
      else if (value.length > JOB_LIMITS.maxTaskValueLength)
        problem = `is ${value.length} characters; at most ${JOB_LIMITS.maxTaskValueLength}`;
      else if (first !== undefined) problem = `${JSON.stringify(value)} is listed twice (also tasks[${first}])`;
      if (problem) {
        issue(ctx, problem, [i]);
        bad = true;
      }
      if (first === undefined) seen.set(value, i);
      values.push(value);
    }
    return bad ? z.NEVER : { form: 'list', values };
  }
  return issue(ctx, `expected a count, a range "a-b" or a list, got ${describeValue(v)}`);
});

/** The deadline as written: relative to submission, or an absolute instant. */
export type RawDeadline = { relativeMs: number; text: string } | { at: number; text: string };

const deadline = z.unknown().transform((v, ctx): RawDeadline => {
  if (typeof v === 'string' && looksLikeIsoTime(v.trim())) {
    const r = parseIsoTime(v);
    return r.ok ? { at: r.value, text: v } : issue(ctx, r.message);
  }
  const r = parseDuration(v);
  return r.ok ? { relativeMs: r.value, text: String(v) } : issue(ctx, r.message);
});

const maxPrice = z.unknown().transform((v, ctx) => {
  if (v === undefined) return issue(ctx, 'is required: the most you pay, in credits per million compute units (e.g. 1)');
  if (typeof v !== 'number') return issue(ctx, `expected a number of credits per million compute units, got ${describeValue(v)}`);
  if (!(v > 0)) return issue(ctx, `${v} must be greater than 0`);
  if (v > JOB_LIMITS.maxPrice) return issue(ctx, `${v} exceeds the cap of ${JOB_LIMITS.maxPrice} credits per million compute units`);
  const r = parseFixed(v, JOB_LIMITS.priceDecimals);
  if (!r.ok) return issue(ctx, `${r.message} (prices are exact to 0.000001)`);
  return v;
});

const spotCheck = z.unknown().transform((v, ctx) => {
  let share: number;
  if (typeof v === 'number') share = v;
  else if (typeof v === 'string' && /^\d+(\.\d+)?\s*%$/.test(v.trim())) share = Number(v.trim().replace('%', '').trim()) / 100;
  else return issue(ctx, `expected a share from 0 to 1 (or a percentage such as "10%"), got ${describeValue(v)}`);
  if (!(share >= 0 && share <= 1)) return issue(ctx, `${v} is not between 0 and 1`);
  // Rounding the percentage's division back to 4 places is exact: "12.5%" is 0.125.
  const r = parseFixed(Number(share.toFixed(8)), JOB_LIMITS.spotCheckDecimals);
  if (!r.ok) return issue(ctx, `${v} is finer than a basis point (0.0001)`);
  return Number(r.value) / 10_000;
});

const redundancy = z.unknown().transform((v, ctx) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) return issue(ctx, `expected a whole number of runs per task, got ${describeValue(v)}`);
  if (v < 1 || v > JOB_LIMITS.maxRedundancy) return issue(ctx, `${v} is not between 1 and ${JOB_LIMITS.maxRedundancy}`);
  return v;
});

/** A mapping of names to scalar strings (numbers and booleans are written as YAML reads them). */
const stringMap = z.record(z.string(), z.unknown());

export const resourcesSchema = z.strictObject({
  memory: size(JOB_LIMITS.minMemoryBytes, JOB_LIMITS.maxMemoryBytes).optional(),
  fuel,
  output: size(0, JOB_LIMITS.maxOutputBytes).optional(),
});

export const verificationSchema = z.strictObject({
  spotCheck: spotCheck.optional(),
  redundancy: redundancy.optional(),
});

export const allowSchema = z.strictObject({
  clock: z.boolean().optional(),
  random: z.boolean().optional(),
});

export const documentSchema = z.strictObject({
  version: z
    .unknown()
    .transform((v, ctx) =>
      v === JOB_VERSION
        ? JOB_VERSION
        : issue(
            ctx,
            v === undefined
              ? `is required: write version: "${JOB_VERSION}"`
              : `${describeValue(v)} is not a version this reads (${JOB_VERSION})`,
          ),
    ),
  program: fileRef(false),
  args: z.array(text('an argument', JOB_LIMITS.maxArgBytes)).max(JOB_LIMITS.maxArgs).optional(),
  env: stringMap.optional(),
  stdin: fileRef(true).optional(),
  inputs: z.record(z.string(), fileRef(true)).optional(),
  tasks: tasks.optional(),
  resources: resourcesSchema,
  attributes: stringMap.optional(),
  deadline: deadline.optional(),
  maxPrice,
  verification: verificationSchema.optional(),
  allow: allowSchema.optional(),
});
export type RawJob = z.output<typeof documentSchema>;

/** The fields each strict object knows, for "unknown field" messages. */
export const KNOWN_FIELDS: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(documentSchema.shape),
  resources: Object.keys(resourcesSchema.shape),
  verification: Object.keys(verificationSchema.shape),
  allow: Object.keys(allowSchema.shape),
};
