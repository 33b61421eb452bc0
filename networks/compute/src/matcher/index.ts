// The compute network's matcher: queued task runs go to provider offers, reverse-auction style.
// Each run goes to the best offer that can take it (types.ts compareOffers: lowest ask, then
// highest benchScore × reputation, then device id) among those under its max price, with the
// memory, the attributes and the speed it needs, not excluded, and with a free slot (an offer
// runs at most maxConcurrent at once, which is what spreads a job over many providers). A run
// that cannot be placed is reported with a structured reason (types.ts UnplacedReason). Pure
// and deterministic: the same operations in the same order give the same assignments.
//
// Speed: offers sit in one array sorted by that order, and a segment tree over it holds, per
// node, the largest memory and the largest benchScore among its offers that have a free slot
// (full ones count as -Infinity). Offers under a price are a prefix of the array (price is the
// first key), so a task's best offer is the leftmost leaf in that prefix with enough memory and
// speed, found by descending the tree and skipping every subtree whose maxima fall short: about
// log2(offers) steps, plus one more descent per excluded offer met on the way. Tasks with
// required attributes search a tree over just the offers that have them (built on first use).
// A run taking a device's last slot, or a release freeing one, updates one leaf path per tree.
// Changing an offer's rank (price, benchScore, reputation) or attributes marks the index stale;
// the next assign rebuilds it (O(offers log offers)): offers change rarely next to assignments.
//
// Diagnosis is only for runs that fail. The checks before speed depend only on (maxPrice,
// memory, required attributes), which a job's runs share, so each combination is counted over
// all offers once and kept until an offer changes; speed and the exclusions are then settled per
// run from those counts, the excluded owners' offers and the excluded devices (diagnose()).
// reference.ts is the same matcher as a linear scan; the tests hold the two to the same output.
import {
  type Assignment,
  type AssignOptions,
  type AssignResult,
  checkOffer,
  checkTask,
  compareOffers,
  exclusionOrBusy,
  funnel,
  hasAttributes,
  MatcherError,
  minBenchScore,
  type Offer,
  type QueuedTask,
  qualityOf,
  refKey,
  type TaskRef,
  type Unplaced,
  type UnplacedReason,
} from './types.ts';

export * from './reputation.ts';
export { ReferenceMatcher } from './reference.ts';
export * from './types.ts';

/** An offer in the index. */
type Slot = {
  offer: Offer;
  /** Position in the rank order (valid while the index is not stale). */
  rank: number;
  /** The trees it is a leaf of, and its leaf in each. */
  trees: Tree[];
  leaves: number[];
};

/** Segment tree over a rank-ordered list of slots; see the file comment. */
class Tree {
  readonly size: number;
  /** Node 1 is the root; leaves are size .. size + n - 1. */
  readonly mem: Float64Array;
  readonly speed: Float64Array;
  readonly prices: Float64Array;

  constructor(
    readonly slots: Slot[],
    free: (slot: Slot) => boolean,
  ) {
    let size = 1;
    while (size < slots.length) size *= 2;
    this.size = size;
    this.mem = new Float64Array(2 * size).fill(Number.NEGATIVE_INFINITY);
    this.speed = new Float64Array(2 * size).fill(Number.NEGATIVE_INFINITY);
    this.prices = new Float64Array(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      s.trees.push(this);
      s.leaves.push(i);
      this.prices[i] = s.offer.pricePerMCU;
      if (free(s)) {
        this.mem[size + i] = s.offer.memoryBytes;
        this.speed[size + i] = s.offer.benchScore;
      }
    }
    for (let n = size - 1; n >= 1; n--) {
      this.mem[n] = Math.max(this.mem[2 * n]!, this.mem[2 * n + 1]!);
      this.speed[n] = Math.max(this.speed[2 * n]!, this.speed[2 * n + 1]!);
    }
  }

  /** Sets leaf i as free or full and fixes its ancestors. */
  set(i: number, free: boolean): void {
    const o = this.slots[i]!.offer;
    let n = this.size + i;
    this.mem[n] = free ? o.memoryBytes : Number.NEGATIVE_INFINITY;
    this.speed[n] = free ? o.benchScore : Number.NEGATIVE_INFINITY;
    for (n >>= 1; n >= 1; n >>= 1) {
      this.mem[n] = Math.max(this.mem[2 * n]!, this.mem[2 * n + 1]!);
      this.speed[n] = Math.max(this.speed[2 * n]!, this.speed[2 * n + 1]!);
    }
  }

  /** The number of leaves whose price is at most maxPrice (they come first). */
  priceEnd(maxPrice: number): number {
    let lo = 0;
    let hi = this.prices.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.prices[mid]! <= maxPrice) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The leftmost free leaf before `end` with memory >= m and benchScore >= s that `accept`
   * takes (null accepts all), or -1.
   */
  find(end: number, m: number, s: number, accept: ((slot: Slot) => boolean) | null): number {
    return end === 0 ? -1 : this.search(1, 0, this.size, end, m, s, accept);
  }

  private search(
    node: number,
    lo: number,
    hi: number,
    end: number,
    m: number,
    s: number,
    accept: ((slot: Slot) => boolean) | null,
  ): number {
    if (lo >= end || this.mem[node]! < m || this.speed[node]! < s) return -1;
    if (hi - lo === 1) return accept === null || accept(this.slots[lo]!) ? lo : -1;
    const mid = (lo + hi) >>> 1;
    const left = this.search(2 * node, lo, mid, end, m, s, accept);
    return left >= 0 ? left : this.search(2 * node + 1, mid, hi, end, m, s, accept);
  }
}

/** A queued run with what assign needs precomputed. */
type Entry = {
  task: QueuedTask;
  key: string;
  /** Canonical text of the required attributes ('' for none): the tree it searches. */
  attrKey: string;
  excludeDevices: Set<string> | null;
  excludeOwners: Set<string> | null;
  removed: boolean;
};

/**
 * What the checks before speed found for a (maxPrice, memory, attributes) combination, over all
 * offers: a reason, or how many offers pass and the range of their benchScores.
 */
type Base = { reason: UnplacedReason } | { reason: null; count: number; fastest: number; slowest: number };

function attributesKey(required: Readonly<Record<string, string>> | undefined): string {
  if (!required) return '';
  const keys = Object.keys(required).sort();
  return keys.length === 0 ? '' : JSON.stringify(keys.map((k) => [k, required[k]]));
}

export class Matcher {
  private readonly slots = new Map<string, Slot>();
  /** Per device, its runs in flight (key → ref), in the order they were assigned. */
  private readonly running = new Map<string, Map<string, TaskRef>>();
  private readonly inFlight = new Map<string, string>();
  private queue: Entry[] = [];
  private readonly entries = new Map<string, Entry>();
  private removedInQueue = 0;
  // The index: rebuilt by assign when stale.
  private stale = true;
  private order: Slot[] = [];
  private main: Tree | null = null;
  private readonly attributeTrees = new Map<string, Tree>();
  private offersInOrder: Offer[] = [];
  private slotsByOwner = new Map<string, Slot[]>();
  /** Diagnoses by (maxPrice, memory, attributes); they hold until an offer changes. */
  private readonly bases = new Map<string, Base>();

  /**
   * Adds or replaces a device's offer. Runs already on the device stay (if maxConcurrent drops
   * below them it just takes no more until enough finish). Throws MatcherError if malformed.
   */
  upsertOffer(offer: Offer): void {
    checkOffer(offer);
    const copy: Offer = { ...offer, attributes: { ...offer.attributes } };
    const slot = this.slots.get(offer.device);
    if (!slot) {
      this.slots.set(offer.device, { offer: copy, rank: -1, trees: [], leaves: [] });
      this.stale = true;
      this.bases.clear();
      return;
    }
    const old = slot.offer;
    slot.offer = copy;
    this.bases.clear();
    if (this.stale) return;
    const sameRank = old.pricePerMCU === copy.pricePerMCU && qualityOf(old) === qualityOf(copy);
    const samePlace = sameRank && old.owner === copy.owner && attributesKey(old.attributes) === attributesKey(copy.attributes);
    // Memory, speed and capacity live in the leaves: a point update. Rank, owner or attributes move it.
    if (samePlace) {
      this.offersInOrder[slot.rank] = copy;
      this.refresh(slot);
    } else this.stale = true;
  }

  /**
   * Withdraws a device's offer and forgets its runs in flight, which it returns (in the order
   * they were assigned) so the caller can queue them again, e.g. excluding this device.
   */
  removeProvider(device: string): TaskRef[] {
    if (this.slots.delete(device)) {
      this.stale = true;
      this.bases.clear();
    }
    const runs = this.running.get(device);
    this.running.delete(device);
    if (!runs) return [];
    for (const key of runs.keys()) this.inFlight.delete(key);
    return [...runs.values()];
  }

  /**
   * Queues a run (FIFO). The matcher keeps `task` itself (it is what `unplaced` reports): do not
   * change it while it is queued. Throws MatcherError if malformed, or if the run is already
   * queued or running.
   */
  enqueue(task: QueuedTask): void {
    checkTask(task);
    const key = refKey(task);
    if (this.entries.has(key) || this.inFlight.has(key))
      throw new MatcherError(`task ${task.job}#${task.task} run ${task.run ?? 0} is already queued or running`);
    const entry: Entry = {
      task,
      key,
      attrKey: attributesKey(task.requiredAttributes),
      excludeDevices: task.excludeDevices?.length ? new Set(task.excludeDevices) : null,
      excludeOwners: task.excludeOwners?.length ? new Set(task.excludeOwners) : null,
      removed: false,
    };
    this.entries.set(key, entry);
    this.queue.push(entry);
  }

  /** Takes a queued run off the queue; false if it was not queued. */
  cancel(ref: TaskRef): boolean {
    const entry = this.entries.get(refKey(ref));
    if (!entry) return false;
    this.drop(entry);
    return true;
  }

  /** A run finished (or failed): frees its slot. Returns the device it ran on, or null if it was not in flight. */
  release(ref: TaskRef): string | null {
    const key = refKey(ref);
    const device = this.inFlight.get(key);
    if (device === undefined) return null;
    this.inFlight.delete(key);
    this.running.get(device)?.delete(key);
    const slot = this.slots.get(device);
    if (slot && !this.stale) this.refresh(slot);
    return device;
  }

  get queueLength(): number {
    return this.entries.size;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** The runs in flight on a device, in the order they were assigned. */
  runningOn(device: string): TaskRef[] {
    return [...(this.running.get(device)?.values() ?? [])];
  }

  /**
   * Places queued runs, first queued first, until `limit` are assigned or the queue is done.
   * Assigned runs leave the queue and hold a slot until released; runs whose deadline is not
   * after `now` are dropped (reason 'deadline-passed'); every other run examined and not
   * placed stays queued, in order, and is listed with its reason. The index is rebuilt first if
   * offers changed rank since the last call; `limit: 0` does only that (to keep the rebuild off
   * a latency-sensitive call).
   */
  assign(options: AssignOptions): AssignResult {
    const { now, limit = Number.POSITIVE_INFINITY } = options;
    if (!Number.isFinite(now)) throw new MatcherError('assign: now must be a time in milliseconds');
    if (this.stale) this.rebuild();
    const assigned: Assignment[] = [];
    const unplaced: Unplaced[] = [];
    /** Per call (the speed needed depends on now): eligible counts of tight-deadline combinations. */
    const counts = new Map<string, number>();
    const queue = this.queue;
    for (let i = 0; i < queue.length && assigned.length < limit; i++) {
      const entry = queue[i]!;
      if (entry.removed) continue;
      const task = entry.task;
      if (task.deadline <= now) {
        this.drop(entry);
        unplaced.push({ task, reason: { code: 'deadline-passed', transient: false, deadline: task.deadline, now } });
        continue;
      }
      const score = minBenchScore(task.fuel, task.deadline, now);
      const tree = entry.attrKey === '' ? this.main! : this.attributeTree(entry.attrKey, task.requiredAttributes!);
      const { excludeDevices: devices, excludeOwners: owners } = entry;
      const accept = devices === null && owners === null ? null : (s: Slot) => !devices?.has(s.offer.device) && !owners?.has(s.offer.owner);
      const leaf = tree.find(tree.priceEnd(task.maxPrice), task.memoryBytes, score, accept);
      if (leaf >= 0) {
        const slot = tree.slots[leaf]!;
        this.drop(entry);
        this.start(slot, entry);
        assigned.push({
          job: task.job,
          task: task.task,
          run: task.run ?? 0,
          device: slot.offer.device,
          owner: slot.offer.owner,
          pricePerMCU: slot.offer.pricePerMCU,
        });
      } else unplaced.push({ task, reason: this.diagnose(entry, score, counts) });
    }
    if (this.removedInQueue > 1024 && this.removedInQueue * 2 > this.queue.length) {
      this.queue = this.queue.filter((e) => !e.removed);
      this.removedInQueue = 0;
    }
    return { assigned, unplaced };
  }

  private drop(entry: Entry): void {
    entry.removed = true;
    this.entries.delete(entry.key);
    this.removedInQueue++;
  }

  private free(slot: Slot): boolean {
    return (this.running.get(slot.offer.device)?.size ?? 0) < slot.offer.maxConcurrent;
  }

  private refresh(slot: Slot): void {
    const free = this.free(slot);
    for (let t = 0; t < slot.trees.length; t++) slot.trees[t]!.set(slot.leaves[t]!, free);
  }

  private start(slot: Slot, entry: Entry): void {
    const device = slot.offer.device;
    let runs = this.running.get(device);
    if (!runs) {
      runs = new Map();
      this.running.set(device, runs);
    }
    const t = entry.task;
    runs.set(entry.key, { job: t.job, task: t.task, run: t.run ?? 0 });
    this.inFlight.set(entry.key, device);
    if (runs.size >= slot.offer.maxConcurrent) this.refresh(slot);
  }

  private rebuild(): void {
    this.order = [...this.slots.values()].sort((a, b) => compareOffers(a.offer, b.offer));
    for (let i = 0; i < this.order.length; i++) {
      const s = this.order[i]!;
      s.rank = i;
      s.trees = [];
      s.leaves = [];
    }
    this.attributeTrees.clear();
    this.offersInOrder = this.order.map((s) => s.offer);
    this.slotsByOwner = new Map();
    for (const s of this.order) {
      const list = this.slotsByOwner.get(s.offer.owner);
      if (list) list.push(s);
      else this.slotsByOwner.set(s.offer.owner, [s]);
    }
    this.bases.clear();
    this.main = new Tree(this.order, (s) => this.free(s));
    this.stale = false;
  }

  private attributeTree(key: string, required: Readonly<Record<string, string>>): Tree {
    let tree = this.attributeTrees.get(key);
    if (!tree) {
      tree = new Tree(
        this.order.filter((s) => hasAttributes(s.offer, required)),
        (s) => this.free(s),
      );
      this.attributeTrees.set(key, tree);
    }
    return tree;
  }

  /**
   * Why a run that found no free offer was not placed, with the same numbers funnel() gives the
   * reference. The checks before speed are counted once per (maxPrice, memory, attributes) and
   * kept until an offer changes. Speed: when every offer passing them is fast enough (the usual
   * case: deadlines are loose next to benchScores) the count is theirs; otherwise it is counted
   * once per call. Exclusions are counted from the run's excluded owners' offers and devices.
   */
  private diagnose(entry: Entry, score: number, counts: Map<string, number>): UnplacedReason {
    const task = entry.task;
    const baseKey = `${task.maxPrice}\0${task.memoryBytes}\0${entry.attrKey}`;
    let base = this.bases.get(baseKey);
    if (!base) {
      const f = funnel(this.offersInOrder, task, Number.NEGATIVE_INFINITY);
      if (f.reason) base = { reason: f.reason };
      else {
        let fastest = Number.NEGATIVE_INFINITY;
        let slowest = Number.POSITIVE_INFINITY;
        for (const o of f.eligible) {
          if (o.benchScore > fastest) fastest = o.benchScore;
          if (o.benchScore < slowest) slowest = o.benchScore;
        }
        base = { reason: null, count: f.eligible.length, fastest, slowest };
      }
      this.bases.set(baseKey, base);
    }
    if (base.reason) return base.reason;
    if (!(base.fastest >= score))
      return { code: 'speed', transient: false, minBenchScore: score, fastest: base.fastest, candidates: base.count };
    let eligible = base.count;
    if (!(base.slowest >= score)) {
      const key = `${baseKey}\0${score}`;
      let n = counts.get(key);
      if (n === undefined) {
        const f = funnel(this.offersInOrder, task, score);
        n = f.eligible?.length ?? 0;
        counts.set(key, n);
      }
      eligible = n;
    }
    const fits = (o: Offer) =>
      o.pricePerMCU <= task.maxPrice &&
      o.memoryBytes >= task.memoryBytes &&
      hasAttributes(o, task.requiredAttributes) &&
      o.benchScore >= score;
    let excluded = 0;
    const { excludeDevices: devices, excludeOwners: owners } = entry;
    if (owners) for (const owner of owners) for (const s of this.slotsByOwner.get(owner) ?? []) if (fits(s.offer)) excluded++;
    if (devices)
      for (const device of devices) {
        const slot = this.slots.get(device);
        if (slot && !owners?.has(slot.offer.owner) && fits(slot.offer)) excluded++;
      }
    return exclusionOrBusy(eligible, excluded);
  }
}

/** The runs of a job's tasks as the matcher queues them (run 0 of each; spot checks and retries are queued later). */
export function queuedTasksOf(
  jobId: string,
  spec: {
    tasks: readonly { index: number }[];
    resources: { memoryBytes: number; fuel: number };
    maxPrice: number;
    attributes: Readonly<Record<string, string>>;
    deadline: number;
  },
): QueuedTask[] {
  const required = Object.keys(spec.attributes).length ? spec.attributes : undefined;
  return spec.tasks.map((t) => ({
    job: jobId,
    task: t.index,
    memoryBytes: spec.resources.memoryBytes,
    fuel: spec.resources.fuel,
    maxPrice: spec.maxPrice,
    deadline: spec.deadline,
    ...(required ? { requiredAttributes: required } : {}),
  }));
}
