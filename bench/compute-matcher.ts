/**
 * Benchmark: the compute network's matcher (networks/compute/src/matcher), assignments per
 * second with 10,000 provider offers and 100,000 queued task runs, against the linear reference
 * matcher (one scan of every offer per task) on the same input in the same process.
 *
 *   node --import tsx bench/compute-matcher.ts [--providers N] [--tasks T] [--reference-tasks R]
 *                                              [--churn-rounds C] [--seed S] [--json]
 *
 * Input (seeded, the same every run): N offers (default 10,000) from 2,000 owners, with prices
 * on 60 levels from 0.0002 to 0.006 credits per million units, memory 64 MiB to 8 GiB,
 * benchScore 1e8 to 4e9 units/s, reputation 0.3 to 1, maxConcurrent 1 to 16 (about 8.5 slots
 * per offer, so about 85,000 in all: fewer than the tasks, so some wait), and attributes (a region
 * on every offer, a GPU model on one in ten). T runs (default 100,000) in jobs of 100 tasks: each
 * job has one memory (64 MiB to 4 GiB; one job in 50 asks 16 GiB, which no offer has), maxPrice
 * (0.0005 to 0.006), fuel (1e9 to 1e11) and deadline (30 min to 2 h), one in ten needs a region
 * or a GPU, and one run in ten is a spot check excluding a random owner and device. Offers and runs are built before any clock starts.
 *
 * - index: the first build of the index (sorting the offers, the segment tree), timed apart with
 *   assign({ limit: 0 }).
 * - fill: one assign() over the whole queue: every run is examined once, placed or reported
 *   with its reason. Rate = assignments / time (the time includes the diagnosis of the runs left
 *   waiting).
 * - churn: C rounds (default 20) of releasing 2,000 random runs in flight and assign() again,
 *   as a running network does; rate = assignments / time of the assign calls.
 * - reference: the first R runs (default 5,000) of the same queue, on a fresh ReferenceMatcher
 *   and on a fresh Matcher with the same offers. The reference's cost per run does not depend on
 *   how full the offers are (it always scans all N), so its time for T runs is extrapolated as
 *   T / R × its time for R. The ratio printed is the reference's time over the indexed
 *   matcher's on the same R runs (both timed, nothing extrapolated), with and without the indexed
 *   side's index build; the two must make the same R assignments and give the same reasons
 *   (exit 1 otherwise).
 *
 * Prints a table, or with --json one JSON object. No target is checked; the brief's goal ("many
 * thousands of assignments per second at 10,000 offers and 100,000 runs") is printed beside it.
 */
import { parseArgs } from 'node:util';
import { seededRandom } from '../protocol/src/random.ts';
import { Matcher, type Offer, type QueuedTask, ReferenceMatcher } from '../networks/compute/src/matcher/index.ts';

const MiB = 1024 * 1024;
const NOW = Date.UTC(2026, 0, 1);
const GOAL_PER_SECOND = 5_000;

function makeOffers(n: number, seed: number): Offer[] {
  const next = seededRandom(seed);
  const unit = () => next() / 2 ** 32;
  const regions = ['eu', 'us', 'asia', 'sa'];
  const gpus = ['rtx4090', 'a100', 'h100'];
  const memories = [64, 128, 256, 512, 1024, 2048, 4096, 8192].map((m) => m * MiB);
  return Array.from({ length: n }, (_, i) => {
    // 60 price levels, log-spaced: many offers share a price, as asks cluster in a market.
    const level = next() % 60;
    const pricePerMCU = Number((0.0002 * (0.006 / 0.0002) ** (level / 59)).toFixed(6));
    const attributes: Record<string, string> = { region: regions[next() % regions.length]! };
    if (next() % 10 === 0) attributes.gpu = gpus[next() % gpus.length]!;
    const cores = 1 + (next() % 16);
    return {
      device: `dev-${String(i).padStart(6, '0')}`,
      owner: `owner-${String(next() % 2000).padStart(4, '0')}`,
      cores,
      memoryBytes: memories[next() % memories.length]!,
      benchScore: Math.round(1e8 + unit() * 3.9e9),
      pricePerMCU,
      reputation: Math.round((0.3 + unit() * 0.7) * 1000) / 1000,
      attributes,
      maxConcurrent: cores,
    };
  });
}

function makeTasks(t: number, offers: Offer[], seed: number): QueuedTask[] {
  const next = seededRandom(seed ^ 0x7a5c);
  const memories = [64, 128, 256, 512, 1024, 4096].map((m) => m * MiB);
  const tasks: QueuedTask[] = [];
  for (let job = 0; tasks.length < t; job++) {
    // One job in 50 asks for more memory than any offer has: it stays queued with reason 'memory'.
    const memoryBytes = next() % 50 === 0 ? 16 * 1024 * MiB : memories[next() % memories.length]!;
    const maxPrice = Number((0.0005 + (next() % 12) * 0.0005).toFixed(6));
    const fuel = [1e9, 1e10, 1e11][next() % 3]!;
    const deadline = NOW + (30 + (next() % 91)) * 60_000;
    const kind = next() % 20;
    const requiredAttributes: Record<string, string> | undefined = kind === 0 ? { region: 'eu' } : kind === 1 ? { gpu: 'a100' } : undefined;
    for (let i = 0; i < 100 && tasks.length < t; i++) {
      const spot = next() % 10 === 0;
      const other = offers[next() % offers.length]!;
      tasks.push({
        job: `job-${job}`,
        task: i,
        memoryBytes,
        fuel,
        maxPrice,
        deadline,
        ...(requiredAttributes ? { requiredAttributes } : {}),
        ...(spot ? { run: 1, excludeDevices: [other.device], excludeOwners: [other.owner] } : {}),
      });
    }
  }
  return tasks;
}

const ms = (start: number) => performance.now() - start;

function main(): void {
  const { values } = parseArgs({
    options: {
      providers: { type: 'string', default: '10000' },
      tasks: { type: 'string', default: '100000' },
      'reference-tasks': { type: 'string', default: '5000' },
      'churn-rounds': { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const N = Number(values.providers);
  const T = Number(values.tasks);
  const R = Math.min(T, Number(values['reference-tasks']));
  const C = Number(values['churn-rounds']);
  const seed = Number(values.seed);
  const offers = makeOffers(N, seed);
  const tasks = makeTasks(T, offers, seed);
  const log = (s: string) => process.stderr.write(`${s}\n`);

  // fill: one assign over the whole queue.
  const m = new Matcher();
  for (const o of offers) m.upsertOffer(o);
  for (const t of tasks) m.enqueue(t);
  log(`compute-matcher: ${N.toLocaleString('en-US')} offers, ${T.toLocaleString('en-US')} runs queued; fill…`);
  let start = performance.now();
  m.assign({ now: NOW, limit: 0 });
  const buildMs = ms(start);
  start = performance.now();
  const fill = m.assign({ now: NOW });
  const fillMs = ms(start);
  const reasons: Record<string, number> = {};
  for (const u of fill.unplaced) reasons[u.reason.code] = (reasons[u.reason.code] ?? 0) + 1;

  // churn: release some, assign again.
  log('compute-matcher: churn…');
  const next = seededRandom(seed ^ 0xc4);
  const running = [...fill.assigned];
  let churnAssigned = 0;
  let churnMs = 0;
  let churnExamined = 0;
  for (let round = 0; round < C; round++) {
    for (let k = 0; k < 2000 && running.length; k++) {
      const i = next() % running.length;
      const a = running[i]!;
      running[i] = running[running.length - 1]!;
      running.pop();
      m.release(a);
    }
    start = performance.now();
    const r = m.assign({ now: NOW + (round + 1) * 1000 });
    churnMs += ms(start);
    churnAssigned += r.assigned.length;
    churnExamined += r.assigned.length + r.unplaced.length;
    running.push(...r.assigned);
  }

  // reference: the first R runs on both, fresh.
  log(`compute-matcher: reference on the first ${R.toLocaleString('en-US')} runs…`);
  const subset = tasks.slice(0, R);
  const ref = new ReferenceMatcher();
  const fast = new Matcher();
  for (const o of offers) {
    ref.upsertOffer(o);
    fast.upsertOffer(o);
  }
  for (const t of subset) {
    ref.enqueue(t);
    fast.enqueue(t);
  }
  start = performance.now();
  const refResult = ref.assign({ now: NOW });
  const refMs = ms(start);
  start = performance.now();
  fast.assign({ now: NOW, limit: 0 });
  const fastBuildMs = ms(start);
  const fastResult = fast.assign({ now: NOW });
  const fastMs = ms(start);
  const fastAssignMs = fastMs - fastBuildMs;
  const same = JSON.stringify(refResult) === JSON.stringify(fastResult);

  const perSecond = (count: number, t: number) => Math.round(count / (t / 1000));
  const out = {
    providers: N,
    tasks: T,
    seed,
    indexBuildMs: Math.round(buildMs * 10) / 10,
    fill: {
      ms: Math.round(fillMs),
      assigned: fill.assigned.length,
      unplaced: fill.unplaced.length,
      reasons,
      perSecond: perSecond(fill.assigned.length, fillMs),
    },
    churn: {
      rounds: C,
      ms: Math.round(churnMs),
      assigned: churnAssigned,
      examined: churnExamined,
      perSecond: perSecond(churnAssigned, churnMs),
    },
    reference: {
      tasks: R,
      ms: Math.round(refMs),
      assigned: refResult.assigned.length,
      perSecond: perSecond(refResult.assigned.length, refMs),
      extrapolatedMsForAllTasks: Math.round((refMs * T) / R),
    },
    indexedOnSubset: {
      tasks: R,
      ms: Math.round(fastMs * 10) / 10,
      buildMs: Math.round(fastBuildMs * 10) / 10,
      assignMs: Math.round(fastAssignMs * 10) / 10,
      assigned: fastResult.assigned.length,
      perSecond: perSecond(fastResult.assigned.length, fastMs),
    },
    ratio: Math.round((refMs / fastMs) * 10) / 10,
    ratioWithoutBuild: Math.round((refMs / fastAssignMs) * 10) / 10,
    sameAssignments: same,
    goalPerSecond: GOAL_PER_SECOND,
  };
  if (values.json) console.log(JSON.stringify(out));
  else {
    const f = (x: number) => x.toLocaleString('en-US');
    console.log(`\ncompute matcher, ${f(N)} offers, ${f(T)} queued runs (seed ${seed})\n`);
    console.log(`index     sorting ${f(N)} offers and building the tree: ${out.indexBuildMs} ms (before fill, not in its time)`);
    console.log(
      `fill      one assign over the queue: ${f(out.fill.assigned)} assigned, ${f(out.fill.unplaced)} unplaced in ${f(out.fill.ms)} ms = ${f(out.fill.perSecond)} assignments/s`,
    );
    console.log(
      `          unplaced by reason: ${Object.entries(reasons)
        .map(([k, v]) => `${k} ${f(v)}`)
        .join(', ')}`,
    );
    console.log(
      `churn     ${C} rounds of 2,000 releases + assign: ${f(churnAssigned)} assigned (${f(churnExamined)} examined) in ${f(out.churn.ms)} ms = ${f(out.churn.perSecond)} assignments/s`,
    );
    console.log(
      `reference first ${f(R)} runs: ${f(out.reference.ms)} ms = ${f(out.reference.perSecond)} assignments/s (all ${f(T)} would take about ${f(out.reference.extrapolatedMsForAllTasks)} ms, extrapolated)`,
    );
    console.log(
      `indexed   same ${f(R)} runs: ${out.indexedOnSubset.ms} ms = ${f(out.indexedOnSubset.perSecond)} assignments/s (${out.indexedOnSubset.buildMs} ms of it building the index)`,
    );
    console.log(
      `ratio     reference / indexed on the same runs: ${out.ratio}x with the index build, ${out.ratioWithoutBuild}x without; same assignments and reasons: ${same ? 'yes' : 'NO'}`,
    );
    console.log(
      `goal      many thousands per second (>= ${f(GOAL_PER_SECOND)}): fill ${out.fill.perSecond >= GOAL_PER_SECOND ? 'met' : 'MISSED'}, churn ${out.churn.perSecond >= GOAL_PER_SECOND ? 'met' : 'MISSED'}`,
    );
  }
  if (!same) {
    console.error('compute-matcher: the indexed matcher and the reference disagree');
    process.exitCode = 1;
  }
}

main();
