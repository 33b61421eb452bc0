// What the matcher reads and writes, and the rules both matchers (the indexed one in index.ts,
// the linear reference in reference.ts) share: which offers can take a task, how offers rank,
// and why a task was not placed. Keeping the rules here, once, is what lets the property test
// hold the two to the same assignments.

/** A provider's standing offer, as its agent advertises it. */
export type Offer = {
  /** Device id: the unique key of an offer (a later upsert replaces it). */
  device: string;
  /** Owner account; spot checks must run on another owner's device to be independent. */
  owner: string;
  /** Informational: the agent sets maxConcurrent from it (a task is single-threaded WebAssembly). */
  cores: number;
  /** The most memory one task may use on this device (per task slot, not the device's total). */
  memoryBytes: number;
  /** Compute units per second one slot runs, as the agent measured it with the sandbox's meter. */
  benchScore: number;
  /** The provider's ask: credits per million compute units. A run is billed at this price. */
  pricePerMCU: number;
  /** 0..1 (reputation.ts). */
  reputation: number;
  /** Matched exactly against a task's requiredAttributes (e.g. { region: 'eu' }). */
  attributes: Readonly<Record<string, string>>;
  /** Tasks it runs at once; 0 takes no new tasks (draining). */
  maxConcurrent: number;
};

/** Names one run of one task: a task may run several times (redundancy, spot checks, retries). */
export type TaskRef = { job: string; task: number; run?: number };

/** A run waiting for a provider, with what it needs. */
export type QueuedTask = TaskRef & {
  /** Memory cap of the run: the offer's memoryBytes must be at least this. */
  memoryBytes: number;
  /** Compute-unit cap of the run. */
  fuel: number;
  /** Credits per million compute units, at most (the job's maxPrice). */
  maxPrice: number;
  requiredAttributes?: Readonly<Record<string, string>>;
  /** Devices that must not take it: the original run's for a spot check, those that failed it. */
  excludeDevices?: readonly string[];
  /** Owners that must not take it: a spot check runs on a different owner to be independent. */
  excludeOwners?: readonly string[];
  /** Milliseconds since the Unix epoch by which the run must be done. */
  deadline: number;
};

export type Assignment = {
  job: string;
  task: number;
  run: number;
  device: string;
  owner: string;
  /** The price the run is billed at: the provider's ask (at most the task's maxPrice). */
  pricePerMCU: number;
};

/**
 * Why a task was not placed. `transient` is true only for 'busy': providers that would take it
 * exist but are full, so it waits and is tried again on the next assign. Every other reason
 * stays true until the offers change (or, for 'deadline-passed', forever), and the consumer has
 * to change the task (raise maxPrice, lower memory, extend the deadline) for it to match.
 *
 * The checks run in this order, each counted over the offers that passed the ones before:
 * deadline, price, memory, attributes, speed, exclusions, capacity. `candidates` is the count
 * that reached the failing check.
 */
export type UnplacedReason =
  /** The deadline is not after now: the task is dropped from the queue. */
  | { code: 'deadline-passed'; transient: false; deadline: number; now: number }
  | { code: 'no-providers'; transient: false }
  /** No offer at or under maxPrice; `cheapest` is the lowest ask of all `candidates` offers. */
  | { code: 'price'; transient: false; maxPrice: number; cheapest: number; candidates: number }
  /** None of the `candidates` offers under maxPrice has the memory; `largest` is the most of them. */
  | { code: 'memory'; transient: false; memoryBytes: number; largest: number; candidates: number }
  /** None of the `candidates` has every required attribute; `matching` counts those with each one. */
  | { code: 'attributes'; transient: false; required: Record<string, string>; matching: Record<string, number>; candidates: number }
  /**
   * None of the `candidates` is fast enough to burn the task's whole fuel before its deadline:
   * it needs benchScore >= `minBenchScore` (fuel / seconds left); `fastest` is the best of them.
   */
  | { code: 'speed'; transient: false; minBenchScore: number; fastest: number; candidates: number }
  /** All `candidates` offers that fit are excluded by device or owner. */
  | { code: 'excluded'; transient: false; candidates: number; excluded: number }
  /** `eligible` offers fit and are not excluded (`excluded` more are), and every one is full. */
  | { code: 'busy'; transient: true; eligible: number; excluded: number };

export type Unplaced = { task: QueuedTask; reason: UnplacedReason };
export type AssignResult = { assigned: Assignment[]; unplaced: Unplaced[] };
export type AssignOptions = {
  /** Milliseconds since the Unix epoch (deadlines are compared with it). */
  now: number;
  /** Stop after this many assignments (the rest of the queue is not examined); default unlimited. */
  limit?: number;
};

export class MatcherError extends Error {
  override readonly name = 'MatcherError';
}

/** The key of a run (job, task, run) in maps: NUL cannot occur in a job id (checked). */
export function refKey(r: TaskRef): string {
  return `${r.job}\0${r.task}\0${r.run ?? 0}`;
}

const nonNegative = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function checkAttributes(where: string, attrs: unknown): void {
  if (attrs === undefined) return;
  if (attrs === null || typeof attrs !== 'object' || Array.isArray(attrs)) throw new MatcherError(`${where} must be a mapping of strings`);
  for (const [k, v] of Object.entries(attrs)) if (typeof v !== 'string') throw new MatcherError(`${where}.${k} must be a string`);
}

/** Throws MatcherError naming the field unless `o` is a well-formed offer. */
export function checkOffer(o: Offer): void {
  const at = `offer ${typeof o?.device === 'string' ? JSON.stringify(o.device) : '(no device)'}`;
  if (typeof o?.device !== 'string' || o.device === '') throw new MatcherError(`${at}: device must be a non-empty string`);
  if (typeof o.owner !== 'string' || o.owner === '') throw new MatcherError(`${at}: owner must be a non-empty string`);
  if (!Number.isSafeInteger(o.cores) || o.cores < 1) throw new MatcherError(`${at}: cores must be a whole number from 1`);
  if (!Number.isSafeInteger(o.memoryBytes) || o.memoryBytes < 0)
    throw new MatcherError(`${at}: memoryBytes must be a whole number of bytes`);
  if (!(nonNegative(o.benchScore) && o.benchScore > 0)) throw new MatcherError(`${at}: benchScore must be a positive number`);
  if (!nonNegative(o.pricePerMCU)) throw new MatcherError(`${at}: pricePerMCU must be a finite number, at least 0`);
  if (!(nonNegative(o.reputation) && o.reputation <= 1)) throw new MatcherError(`${at}: reputation must be between 0 and 1`);
  if (!Number.isSafeInteger(o.maxConcurrent) || o.maxConcurrent < 0)
    throw new MatcherError(`${at}: maxConcurrent must be a whole number, at least 0`);
  checkAttributes(`${at}: attributes`, o.attributes);
  if (o.attributes === undefined) throw new MatcherError(`${at}: attributes is required (use {} for none)`);
}

/** Throws MatcherError naming the field unless `t` is a well-formed queued task. */
export function checkTask(t: QueuedTask): void {
  if (typeof t?.job !== 'string' || t.job === '' || t.job.includes('\0'))
    throw new MatcherError('task: job must be a non-empty string without NUL');
  const at = `task ${t.job}#${t.task}`;
  if (!Number.isSafeInteger(t.task) || t.task < 0) throw new MatcherError(`${at}: task must be a whole number`);
  if (t.run !== undefined && (!Number.isSafeInteger(t.run) || t.run < 0)) throw new MatcherError(`${at}: run must be a whole number`);
  if (!Number.isSafeInteger(t.memoryBytes) || t.memoryBytes < 0)
    throw new MatcherError(`${at}: memoryBytes must be a whole number of bytes`);
  if (!Number.isSafeInteger(t.fuel) || t.fuel < 1) throw new MatcherError(`${at}: fuel must be a whole number from 1`);
  if (!nonNegative(t.maxPrice)) throw new MatcherError(`${at}: maxPrice must be a finite number, at least 0`);
  if (!Number.isFinite(t.deadline)) throw new MatcherError(`${at}: deadline must be a time in milliseconds`);
  checkAttributes(`${at}: requiredAttributes`, t.requiredAttributes);
  for (const [name, list] of [
    ['excludeDevices', t.excludeDevices],
    ['excludeOwners', t.excludeOwners],
  ] as const)
    if (list !== undefined && (!Array.isArray(list) || list.some((d) => typeof d !== 'string')))
      throw new MatcherError(`${at}: ${name} must be a list of strings`);
}

/**
 * The order offers are tried in, best first:
 *   1. lower pricePerMCU: a reverse auction, the consumer pays the ask;
 *   2. higher quality = benchScore × reputation: expected verified compute units per second
 *      (speed, discounted by how often this provider's work holds up) — at equal prices the
 *      consumer gets its results sooner and re-runs fewer;
 *   3. device id (UTF-16 order), so that equal offers are ordered the same on every run.
 * A strict total order (device ids are unique), so the choice never depends on insertion order.
 */
export function compareOffers(a: Offer, b: Offer): number {
  return a.pricePerMCU - b.pricePerMCU || qualityOf(b) - qualityOf(a) || (a.device < b.device ? -1 : a.device > b.device ? 1 : 0);
}

export function qualityOf(o: Offer): number {
  return o.benchScore * o.reputation;
}

/**
 * The least benchScore that runs `fuel` compute units before the deadline: fuel / seconds left.
 * Fuel is the task's cap, so this is the worst case (a task that stops early needs less).
 * Infinity when the deadline is not after now.
 */
export function minBenchScore(fuel: number, deadline: number, now: number): number {
  const ms = deadline - now;
  return ms > 0 ? (fuel * 1000) / ms : Number.POSITIVE_INFINITY;
}

/** Whether an offer has every required attribute with exactly that value. */
export function hasAttributes(offer: Offer, required: Readonly<Record<string, string>> | undefined): boolean {
  if (!required) return true;
  for (const k in required) if (offer.attributes[k] !== required[k]) return false;
  return true;
}

const mib = (bytes: number) => {
  const v = bytes / 1048576;
  return `${Number.isInteger(v) ? v : v.toFixed(1)} MiB`;
};

/** A reason in words, for a consumer's terminal ("no provider under max price 0.001 (cheapest is 0.002)"). */
export function describeUnplaced(r: UnplacedReason): string {
  switch (r.code) {
    case 'deadline-passed':
      return `deadline passed ${Math.round((r.now - r.deadline) / 1000)} s ago; the task is dropped`;
    case 'no-providers':
      return 'no providers are offering';
    case 'price':
      return `no provider under max price ${r.maxPrice} (cheapest is ${r.cheapest}; ${r.candidates} providers)`;
    case 'memory':
      return `no provider with ${mib(r.memoryBytes)} memory (largest ${mib(r.largest)}) among the ${r.candidates} under max price`;
    case 'attributes': {
      const each = Object.entries(r.required)
        .map(([k, v]) => `${k}=${v}: ${r.matching[k] ?? 0}`)
        .join(', ');
      return `no provider has every required attribute among the ${r.candidates} that fit price and memory (${each})`;
    }
    case 'speed':
      return `no provider fast enough for the deadline: needs ${Math.ceil(r.minBenchScore).toLocaleString('en-US')} units/s, fastest of the ${r.candidates} that fit is ${r.fastest.toLocaleString('en-US')}`;
    case 'excluded':
      return `all ${r.candidates} eligible providers excluded (by device or owner)`;
    case 'busy':
      return `all providers busy: ${r.eligible} eligible, all at capacity (waiting)`;
  }
}

/** The checks before exclusions and capacity, over all offers: the first that no offer passes, or the offers that pass all. */
export type FunnelResult = { reason: UnplacedReason; eligible?: undefined } | { reason?: undefined; eligible: Offer[] };

/**
 * Runs a task's checks in order (price, memory, attributes, speed) over `offers`, counting as it
 * goes, and returns the reason of the first check nothing passes, or the offers that pass them
 * all. Both matchers diagnose with this one function; its results do not depend on the order of
 * `offers` (only counts, minima and maxima).
 */
export function funnel(offers: Iterable<Offer>, task: QueuedTask, minScore: number): FunnelResult {
  const required = task.requiredAttributes ?? {};
  const keys = Object.keys(required);
  let candidates = 0;
  let cheapest = Number.POSITIVE_INFINITY;
  let underPrice = 0;
  let largest = -1;
  let withMemory = 0;
  const matching: Record<string, number> = {};
  for (const k of keys) matching[k] = 0;
  let withAttributes = 0;
  let fastest = Number.NEGATIVE_INFINITY;
  const eligible: Offer[] = [];
  for (const o of offers) {
    candidates++;
    if (o.pricePerMCU < cheapest) cheapest = o.pricePerMCU;
    if (!(o.pricePerMCU <= task.maxPrice)) continue;
    underPrice++;
    if (o.memoryBytes > largest) largest = o.memoryBytes;
    if (o.memoryBytes < task.memoryBytes) continue;
    withMemory++;
    let all = true;
    for (const k of keys) {
      if (o.attributes[k] === required[k]) matching[k]!++;
      else all = false;
    }
    if (!all) continue;
    withAttributes++;
    if (o.benchScore > fastest) fastest = o.benchScore;
    if (!(o.benchScore >= minScore)) continue;
    eligible.push(o);
  }
  if (candidates === 0) return { reason: { code: 'no-providers', transient: false } };
  if (underPrice === 0) return { reason: { code: 'price', transient: false, maxPrice: task.maxPrice, cheapest, candidates } };
  if (withMemory === 0)
    return { reason: { code: 'memory', transient: false, memoryBytes: task.memoryBytes, largest, candidates: underPrice } };
  if (withAttributes === 0)
    return { reason: { code: 'attributes', transient: false, required: { ...required }, matching, candidates: withMemory } };
  if (eligible.length === 0)
    return { reason: { code: 'speed', transient: false, minBenchScore: minScore, fastest, candidates: withAttributes } };
  return { eligible };
}

/** 'excluded' when every eligible offer is excluded, else 'busy' (the caller found none free). */
export function exclusionOrBusy(eligible: number, excluded: number): UnplacedReason {
  return eligible === excluded
    ? { code: 'excluded', transient: false, candidates: eligible, excluded }
    : { code: 'busy', transient: true, eligible: eligible - excluded, excluded };
}
