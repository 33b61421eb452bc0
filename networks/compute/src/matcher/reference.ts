// The matcher written the obvious way: for each queued task, scan every offer, keep those that
// can take it, and pick the best by compareOffers. O(offers) per task. It is the specification
// the indexed Matcher (index.ts) is tested against (same operations, same assignments and
// reasons) and the baseline bench/compute-matcher.ts measures it against; it is not for use.
import {
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
  refKey,
  type TaskRef,
  type Unplaced,
} from './types.ts';

export class ReferenceMatcher {
  private readonly offers = new Map<string, Offer>();
  /** Per device, the keys of its runs in flight, in the order they were assigned. */
  private readonly running = new Map<string, Map<string, TaskRef>>();
  private readonly inFlight = new Map<string, string>();
  private queue: QueuedTask[] = [];
  private readonly queued = new Set<string>();

  upsertOffer(offer: Offer): void {
    checkOffer(offer);
    this.offers.set(offer.device, { ...offer, attributes: { ...offer.attributes } });
  }

  removeProvider(device: string): TaskRef[] {
    this.offers.delete(device);
    const runs = this.running.get(device);
    this.running.delete(device);
    if (!runs) return [];
    for (const key of runs.keys()) this.inFlight.delete(key);
    return [...runs.values()];
  }

  enqueue(task: QueuedTask): void {
    checkTask(task);
    const key = refKey(task);
    if (this.queued.has(key) || this.inFlight.has(key))
      throw new MatcherError(`task ${task.job}#${task.task} run ${task.run ?? 0} is already queued or running`);
    this.queued.add(key);
    this.queue.push(task);
  }

  cancel(ref: TaskRef): boolean {
    const key = refKey(ref);
    if (!this.queued.delete(key)) return false;
    this.queue = this.queue.filter((t) => refKey(t) !== key);
    return true;
  }

  release(ref: TaskRef): string | null {
    const key = refKey(ref);
    const device = this.inFlight.get(key);
    if (device === undefined) return null;
    this.inFlight.delete(key);
    this.running.get(device)?.delete(key);
    return device;
  }

  get queueLength(): number {
    return this.queue.length;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  assign(options: AssignOptions): AssignResult {
    const { now, limit = Number.POSITIVE_INFINITY } = options;
    const result: AssignResult = { assigned: [], unplaced: [] };
    const keep: QueuedTask[] = [];
    let i = 0;
    for (; i < this.queue.length && result.assigned.length < limit; i++) {
      const task = this.queue[i]!;
      const key = refKey(task);
      if (task.deadline <= now) {
        this.queued.delete(key);
        result.unplaced.push({ task, reason: { code: 'deadline-passed', transient: false, deadline: task.deadline, now } });
        continue;
      }
      const score = minBenchScore(task.fuel, task.deadline, now);
      const devices = new Set(task.excludeDevices ?? []);
      const owners = new Set(task.excludeOwners ?? []);
      let best: Offer | null = null;
      for (const o of this.offers.values()) {
        const fits =
          o.pricePerMCU <= task.maxPrice &&
          o.memoryBytes >= task.memoryBytes &&
          hasAttributes(o, task.requiredAttributes) &&
          o.benchScore >= score &&
          !devices.has(o.device) &&
          !owners.has(o.owner) &&
          (this.running.get(o.device)?.size ?? 0) < o.maxConcurrent;
        if (fits && (best === null || compareOffers(o, best) < 0)) best = o;
      }
      if (best) {
        this.queued.delete(key);
        this.inFlight.set(key, best.device);
        let runs = this.running.get(best.device);
        if (!runs) {
          runs = new Map();
          this.running.set(best.device, runs);
        }
        runs.set(key, { job: task.job, task: task.task, run: task.run ?? 0 });
        result.assigned.push({
          job: task.job,
          task: task.task,
          run: task.run ?? 0,
          device: best.device,
          owner: best.owner,
          pricePerMCU: best.pricePerMCU,
        });
        continue;
      }
      keep.push(task);
      result.unplaced.push({ task, reason: this.diagnose(task, score, devices, owners) });
    }
    this.queue = [...keep, ...this.queue.slice(i)];
    return result;
  }

  private diagnose(task: QueuedTask, score: number, devices: Set<string>, owners: Set<string>): Unplaced['reason'] {
    const f = funnel(this.offers.values(), task, score);
    if (f.reason) return f.reason;
    const excluded = f.eligible.filter((o) => devices.has(o.device) || owners.has(o.owner)).length;
    return exclusionOrBusy(f.eligible.length, excluded);
  }
}
