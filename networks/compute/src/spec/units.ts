// The quantities a job spec writes as text: sizes ("64MiB"), counts of compute units ("2e9",
// "500M"), durations ("30m", "1h30m"), absolute times (ISO 8601 with a zone) and decimal
// fractions with a fixed number of places. Each parser returns the value or a message saying
// what is wrong with the text; the caller adds the field's name. Pure and exact: a result never
// depends on the machine (integer arithmetic where it matters, no locale, no local time zone).

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(message: string): Parsed<T> => ({ ok: false, message });

/** Size units. Binary (KiB…) as memory is counted, and decimal (kB…) as disks are sold. */
export const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  kB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
};

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/;

/**
 * Bytes from a size: a whole number of bytes (YAML integer or digits), or a number with a unit
 * from SIZE_UNITS ("64MiB", "1.5 GiB", "500MB"). Fractions are rounded down to a whole byte.
 * Units are case-sensitive on purpose: "mb" could mean megabits, and "Mb" is megabits.
 */
export function parseSize(input: unknown): Parsed<number> {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) return fail(`${input} is not a whole number of bytes`);
    return ok(input);
  }
  if (typeof input !== 'string') return fail(`expected a size such as "64MiB", got ${describeValue(input)}`);
  const m = SIZE_RE.exec(input.trim());
  if (!m) return fail(`${JSON.stringify(input)} is not a size (write e.g. "64MiB", "1.5GiB" or a number of bytes)`);
  const unit = m[2] || 'B';
  const scale = SIZE_UNITS[unit];
  if (scale === undefined)
    return fail(`${JSON.stringify(input)} has unknown unit ${JSON.stringify(unit)} (use ${Object.keys(SIZE_UNITS).join(', ')})`);
  const bytes = Math.floor(Number(m[1]) * scale);
  if (!Number.isSafeInteger(bytes)) return fail(`${JSON.stringify(input)} is too large`);
  return ok(bytes);
}

/** A byte count as the largest binary unit it is a whole multiple of ("64MiB", "1536KiB", "100B"). */
export function formatBytes(bytes: number): string {
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB'] as const) {
    const scale = SIZE_UNITS[unit]!;
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  // Not a whole multiple: one decimal of the largest unit it reaches, marked as approximate.
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB'] as const) {
    const scale = SIZE_UNITS[unit]!;
    if (bytes >= scale) return `~${(bytes / scale).toFixed(1)}${unit}`;
  }
  return `${bytes}B`;
}

/** SI multipliers for counts (compute units): thousands, not 1024s. */
const COUNT_SUFFIXES: Readonly<Record<string, number>> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
const COUNT_RE = /^(\d+(?:\.\d+)?(?:[eE]\+?\d+)?)\s*([kKMGT]?)$/;

/** A positive whole count: a number (2e9 in YAML is one), or text such as "2e9", "500M", "2G". */
export function parseCount(input: unknown): Parsed<number> {
  let value: number;
  if (typeof input === 'number') value = input;
  else if (typeof input === 'string') {
    const m = COUNT_RE.exec(input.trim());
    if (!m) return fail(`${JSON.stringify(input)} is not a count (write e.g. 2e9, "500M" or "2G")`);
    value = Number(m[1]) * COUNT_SUFFIXES[m[2]!]!;
  } else return fail(`expected a count such as 2e9, got ${describeValue(input)}`);
  if (!Number.isSafeInteger(value)) return fail(`${typeof input === 'string' ? JSON.stringify(input) : input} is not a whole number`);
  return ok(value);
}

const DURATION_UNITS: readonly (readonly [string, number])[] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];
const DURATION_RE = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/**
 * Milliseconds from a duration: whole numbers of days, hours, minutes and seconds, largest
 * first ("30m", "2h", "1h30m", "90s", "7d"). A bare number is refused: seconds or milliseconds?
 */
export function parseDuration(input: unknown): Parsed<number> {
  if (typeof input === 'number') return fail(`${input} has no unit (write e.g. "30m", "2h" or "1h30m")`);
  if (typeof input !== 'string') return fail(`expected a duration such as "30m", got ${describeValue(input)}`);
  const text = input.trim();
  const m = DURATION_RE.exec(text);
  if (!m || text === '') return fail(`${JSON.stringify(input)} is not a duration (write e.g. "30m", "2h" or "1h30m")`);
  let ms = 0;
  for (let i = 0; i < DURATION_UNITS.length; i++) if (m[i + 1] !== undefined) ms += Number(m[i + 1]) * DURATION_UNITS[i]![1];
  if (!Number.isSafeInteger(ms)) return fail(`${JSON.stringify(input)} is too long`);
  return ok(ms);
}

/** A duration in the largest units that write it exactly ("1h30m", "45s"). */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000) * 1000;
  let out = '';
  for (const [unit, scale] of DURATION_UNITS) {
    if (rest >= scale) {
      out += `${Math.floor(rest / scale)}${unit}`;
      rest %= scale;
    }
  }
  return out || '0s';
}

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})$/;

/** Whether text looks like an ISO 8601 time (so the caller can say which form it was meant to be). */
export function looksLikeIsoTime(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T/.test(text);
}

/**
 * Milliseconds since the Unix epoch from an ISO 8601 time with its zone ("2026-05-01T12:00:00Z",
 * "2026-05-01T14:00+02:00"). The zone is required: without one the same text means a different
 * instant on each machine. Impossible dates (Feb 30) are refused, not rolled over.
 */
export function parseIsoTime(input: string): Parsed<number> {
  const m = ISO_RE.exec(input.trim());
  if (!m) return fail(`${JSON.stringify(input)} is not an ISO 8601 time with a zone (write e.g. "2026-05-01T12:00:00Z")`);
  const [, y, mo, d, h, mi, s = '0', frac = '0', zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const local = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(s), Number(frac.padEnd(3, '0')));
  const check = new Date(Date.UTC(year, month - 1, day));
  if (
    month < 1 ||
    month > 12 ||
    check.getUTCDate() !== day ||
    check.getUTCMonth() !== month - 1 ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  )
    return fail(`${JSON.stringify(input)} is not a valid date and time`);
  let offset = 0;
  if (zone !== 'Z') {
    const sign = zone![0] === '-' ? -1 : 1;
    const [zh, zm] = zone!.slice(1).split(':').map(Number) as [number, number];
    if (zh > 23 || zm > 59) return fail(`${JSON.stringify(input)} has an invalid zone offset`);
    offset = sign * (zh * 60 + zm) * 60_000;
  }
  return ok(local - offset);
}

/**
 * A decimal as an integer count of 10^-places: 0.002 with 6 places is 2000. Refuses numbers
 * with more places than that, so that what the consumer wrote is exactly what is charged (binary
 * floating point cannot hold 0.002 itself; the integer can).
 */
export function parseFixed(input: number, places: number): Parsed<bigint> {
  if (!Number.isFinite(input)) return fail(`${input} is not a finite number`);
  if (Number(input.toFixed(places)) !== input) return fail(`${input} has more than ${places} decimal places`);
  return ok(BigInt(Math.round(input * 10 ** places)));
}

/** A short description of a value for an error message (its type, or the value when short). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return value.length > 40 ? `a string "${value.slice(0, 40)}…"` : JSON.stringify(value);
  return String(value);
}
