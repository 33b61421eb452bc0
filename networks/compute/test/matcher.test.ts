// The matcher: who gets a task (price first, then benchScore × reputation, then device id), what
// rules it out (memory, attributes, speed, exclusions, capacity), each reason a task is not
// placed with its numbers, the reputation rule, and a seeded property test holding the indexed
// Matcher to the linear ReferenceMatcher over random operation sequences.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '@groundwork/protocol';
import {
  type Assignment,
  compareOffers,
  describeUnplaced,
  INITIAL_REPUTATION,
  Matcher,
  MatcherError,
  minBenchScore,
  type Offer,
  type QueuedTask,
  queuedTasksOf,
  ReferenceMatcher,
  REPUTATION_RULES,
  replayReputation,
  type UnplacedReason,
  updateReputation,
} from '../src/matcher/index.ts';

const MiB = 1024 * 1024;
const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

function offer(device: string, over: Partial<Offer> = {}): Offer {
  return {
    device,
    owner: `owner-${device}`,
    cores: 4,
    memoryBytes: 256 * MiB,
    benchScore: 1e9,
    pricePerMCU: 0.001,
    reputation: 0.5,
    attributes: {},
    maxConcurrent: 1,
    ...over,
  };
}

function task(job: string, n: number, over: Partial<QueuedTask> = {}): QueuedTask {
  return { job, task: n, memoryBytes: 64 * MiB, fuel: 2e9, maxPrice: 0.002, deadline: NOW + HOUR, ...over };
}

function withOffers(...offers: Offer[]): Matcher {
  const m = new Matcher();
  for (const o of offers) m.upsertOffer(o);
  return m;
}

const devicesOf = (assigned: Assignment[]) => assigned.map((a) => a.device);
const reasonOf = (m: Matcher, t: QueuedTask): UnplacedReason => {
  m.enqueue(t);
  const r = m.assign({ now: NOW });
  assert.equal(r.assigned.length, 0, `expected ${t.job}#${t.task} unplaced`);
  return r.unplaced.find((u) => u.task.job === t.job && u.task.task === t.task)!.reason;
};

describe('choice of provider', () => {
  test('the cheapest eligible provider wins, whatever the insertion order', () => {
    const offers = [offer('a', { pricePerMCU: 0.0015 }), offer('b', { pricePerMCU: 0.0005 }), offer('c', { pricePerMCU: 0.001 })];
    for (const order of [offers, [...offers].reverse()]) {
      const m = withOffers(...order);
      m.enqueue(task('j', 0));
      const r = m.assign({ now: NOW });
      assert.deepEqual(r.assigned, [{ job: 'j', task: 0, run: 0, device: 'b', owner: 'owner-b', pricePerMCU: 0.0005 }]);
    }
  });

  test('at equal prices, higher benchScore × reputation wins; then the lower device id', () => {
    const m = withOffers(
      offer('fast-unreliable', { benchScore: 4e9, reputation: 0.2 }), // 0.8e9
      offer('slow-reliable', { benchScore: 1e9, reputation: 0.9 }), // 0.9e9
      offer('z-twin', { benchScore: 2e9, reputation: 0.5 }), // 1e9
      offer('a-twin', { benchScore: 2e9, reputation: 0.5 }), // 1e9
    );
    for (let i = 0; i < 4; i++) m.enqueue(task('j', i));
    assert.deepEqual(devicesOf(m.assign({ now: NOW }).assigned), ['a-twin', 'z-twin', 'slow-reliable', 'fast-unreliable']);
    assert.ok(compareOffers(offer('x', { pricePerMCU: 0.001 }), offer('y', { pricePerMCU: 0.002, benchScore: 1e12, reputation: 1 })) < 0);
  });

  test('a provider above the max price is never chosen, even when it is the only free one', () => {
    const m = withOffers(offer('cheap'), offer('dear', { pricePerMCU: 0.003 }));
    m.enqueue(task('j', 0));
    m.enqueue(task('j', 1));
    const r = m.assign({ now: NOW });
    assert.deepEqual(devicesOf(r.assigned), ['cheap']);
    assert.equal(r.unplaced[0]!.reason.code, 'busy');
  });

  test('memory: the cheapest with enough memory wins', () => {
    const m = withOffers(offer('small', { memoryBytes: 32 * MiB, pricePerMCU: 0.0001 }), offer('big', { memoryBytes: 128 * MiB }));
    m.enqueue(task('j', 0));
    assert.deepEqual(devicesOf(m.assign({ now: NOW }).assigned), ['big']);
  });

  test('required attributes must all match exactly', () => {
    const m = withOffers(
      offer('cpu', { pricePerMCU: 0.0001 }),
      offer('gpu-eu', { attributes: { gpu: 'rtx4090', region: 'eu' }, pricePerMCU: 0.0009 }),
      offer('gpu-us', { attributes: { gpu: 'rtx4090', region: 'us' }, pricePerMCU: 0.0005 }),
    );
    m.enqueue(task('j', 0, { requiredAttributes: { gpu: 'rtx4090', region: 'eu' } }));
    m.enqueue(task('j', 1, { requiredAttributes: { gpu: 'rtx4090' } }));
    m.enqueue(task('j', 2));
    assert.deepEqual(devicesOf(m.assign({ now: NOW }).assigned), ['gpu-eu', 'gpu-us', 'cpu']);
  });

  test('excluded devices and owners are skipped (a spot check runs on another owner)', () => {
    const m = withOffers(
      offer('a1', { owner: 'alice', pricePerMCU: 0.0001, maxConcurrent: 5 }),
      offer('a2', { owner: 'alice', pricePerMCU: 0.0002, maxConcurrent: 5 }),
      offer('b1', { owner: 'bob', pricePerMCU: 0.0003, maxConcurrent: 5 }),
      offer('c1', { owner: 'carol', pricePerMCU: 0.0004, maxConcurrent: 5 }),
    );
    m.enqueue(task('j', 0, { excludeDevices: ['a1'] }));
    m.enqueue(task('j', 1, { run: 1, excludeOwners: ['alice'] }));
    m.enqueue(task('j', 2, { excludeOwners: ['alice'], excludeDevices: ['b1'] }));
    assert.deepEqual(devicesOf(m.assign({ now: NOW }).assigned), ['a2', 'b1', 'c1']);
  });

  test('a task too big for its deadline goes to a provider fast enough', () => {
    // 2e9 units in 100 s needs 2e7 units/s.
    const m = withOffers(offer('slow', { benchScore: 1e7, pricePerMCU: 0.0001 }), offer('fast', { benchScore: 3e7 }));
    m.enqueue(task('j', 0, { deadline: NOW + 100_000 }));
    m.enqueue(task('j', 1));
    assert.equal(minBenchScore(2e9, NOW + 100_000, NOW), 2e7);
    assert.deepEqual(devicesOf(m.assign({ now: NOW }).assigned), ['fast', 'slow']);
  });
});

describe('capacity', () => {
  test('a provider runs at most maxConcurrent at once; the next cheapest takes the rest', () => {
    const m = withOffers(offer('a', { maxConcurrent: 2, pricePerMCU: 0.0001 }), offer('b', { maxConcurrent: 1 }));
    for (let i = 0; i < 4; i++) m.enqueue(task('j', i));
    const r = m.assign({ now: NOW });
    assert.deepEqual(devicesOf(r.assigned), ['a', 'a', 'b']);
    assert.deepEqual(
      r.unplaced.map((u) => [u.task.task, u.reason]),
      [[3, { code: 'busy', transient: true, eligible: 2, excluded: 0 }]],
    );
    assert.equal(m.queueLength, 1);
    assert.equal(m.inFlightCount, 3);
  });

  test('release frees the slot; the waiting task is placed on the next assign', () => {
    const m = withOffers(offer('a', { maxConcurrent: 1 }));
    m.enqueue(task('j', 0));
    m.enqueue(task('j', 1));
    assert.deepEqual(devicesOf(m.assign({ now: NOW }).assigned), ['a']);
    assert.equal(m.assign({ now: NOW }).assigned.length, 0);
    assert.equal(m.release({ job: 'j', task: 0 }), 'a');
    assert.equal(m.release({ job: 'j', task: 0 }), null, 'a second release is a no-op');
    const r = m.assign({ now: NOW });
    assert.deepEqual(
      r.assigned.map((a) => [a.task, a.device]),
      [[1, 'a']],
    );
    assert.equal(m.queueLength, 0);
  });

  test('limit stops after that many assignments and leaves the rest queued in order', () => {
    const m = withOffers(offer('a', { maxConcurrent: 10 }));
    for (let i = 0; i < 5; i++) m.enqueue(task('j', i));
    assert.deepEqual(
      m.assign({ now: NOW, limit: 2 }).assigned.map((a) => a.task),
      [0, 1],
    );
    assert.deepEqual(
      m.assign({ now: NOW }).assigned.map((a) => a.task),
      [2, 3, 4],
    );
  });

  test('lowering maxConcurrent keeps the runs but takes no more; removeProvider returns them', () => {
    const m = withOffers(offer('a', { maxConcurrent: 3 }), offer('b', { pricePerMCU: 0.0019, maxConcurrent: 5 }));
    for (let i = 0; i < 3; i++) m.enqueue(task('j', i));
    assert.deepEqual(devicesOf(m.assign({ now: NOW }).assigned), ['a', 'a', 'a']);
    m.upsertOffer(offer('a', { maxConcurrent: 1 }));
    m.release({ job: 'j', task: 0 });
    m.enqueue(task('j', 3));
    assert.deepEqual(devicesOf(m.assign({ now: NOW }).assigned), ['b'], 'a still runs 2 of its 1');
    assert.deepEqual(m.removeProvider('a'), [
      { job: 'j', task: 1, run: 0 },
      { job: 'j', task: 2, run: 0 },
    ]);
    assert.equal(m.release({ job: 'j', task: 1 }), null);
    assert.equal(m.inFlightCount, 1);
  });

  test('a run already queued or in flight cannot be queued again; another run of it can', () => {
    const m = withOffers(offer('a', { maxConcurrent: 2, owner: 'alice' }), offer('b', { owner: 'bob', pricePerMCU: 0.0015 }));
    m.enqueue(task('j', 0));
    assert.throws(() => m.enqueue(task('j', 0)), MatcherError);
    m.assign({ now: NOW });
    assert.throws(() => m.enqueue(task('j', 0)), /already queued or running/);
    m.enqueue(task('j', 0, { run: 1, excludeOwners: ['alice'] }));
    assert.deepEqual(devicesOf(m.assign({ now: NOW }).assigned), ['b']);
    assert.equal(m.cancel({ job: 'j', task: 0, run: 1 }), false, 'assigned, not queued');
    m.enqueue(task('j', 5));
    assert.equal(m.cancel({ job: 'j', task: 5 }), true);
    assert.equal(m.queueLength, 0);
  });

  test('malformed offers and tasks are refused with the field named', () => {
    const m = new Matcher();
    assert.throws(() => m.upsertOffer(offer('a', { reputation: 1.5 })), /reputation must be between 0 and 1/);
    assert.throws(() => m.upsertOffer(offer('a', { benchScore: 0 })), /benchScore must be a positive number/);
    assert.throws(() => m.upsertOffer(offer('a', { pricePerMCU: Number.NaN })), /pricePerMCU/);
    assert.throws(() => m.upsertOffer(offer('a', { maxConcurrent: 1.5 })), /maxConcurrent/);
    assert.throws(() => m.enqueue(task('j', 0, { fuel: 0 })), /fuel must be a whole number from 1/);
    assert.throws(() => m.enqueue(task('j\0x', 0)), /job must be/);
    assert.throws(() => m.enqueue(task('j', 0, { excludeOwners: [1 as unknown as string] })), /excludeOwners/);
  });
});

describe('unplaced reasons', () => {
  test('no providers at all', () => {
    assert.deepEqual(reasonOf(new Matcher(), task('j', 0)), { code: 'no-providers', transient: false });
  });

  test('price: names the max price and the cheapest ask', () => {
    const r = reasonOf(
      withOffers(offer('a', { pricePerMCU: 0.002 }), offer('b', { pricePerMCU: 0.005 })),
      task('j', 0, { maxPrice: 0.001 }),
    );
    assert.deepEqual(r, { code: 'price', transient: false, maxPrice: 0.001, cheapest: 0.002, candidates: 2 });
    assert.equal(describeUnplaced(r), 'no provider under max price 0.001 (cheapest is 0.002; 2 providers)');
  });

  test('memory: names the memory asked and the largest under the price', () => {
    const m = withOffers(
      offer('a', { memoryBytes: 64 * MiB }),
      offer('b', { memoryBytes: 32 * MiB }),
      offer('dear', { memoryBytes: 1024 * MiB, pricePerMCU: 1 }),
    );
    const r = reasonOf(m, task('j', 0, { memoryBytes: 128 * MiB }));
    assert.deepEqual(r, { code: 'memory', transient: false, memoryBytes: 128 * MiB, largest: 64 * MiB, candidates: 2 });
    assert.match(describeUnplaced(r), /^no provider with 128 MiB memory \(largest 64 MiB\)/);
  });

  test('attributes: counts the providers that have each one', () => {
    const m = withOffers(
      offer('a', { attributes: { gpu: 'a100', region: 'us' } }),
      offer('b', { attributes: { region: 'eu' } }),
      offer('c'),
    );
    const r = reasonOf(m, task('j', 0, { requiredAttributes: { gpu: 'a100', region: 'eu' } }));
    assert.deepEqual(r, {
      code: 'attributes',
      transient: false,
      required: { gpu: 'a100', region: 'eu' },
      matching: { gpu: 1, region: 1 },
      candidates: 3,
    });
  });

  test('speed: the fastest provider cannot burn the fuel before the deadline', () => {
    const m = withOffers(offer('a', { benchScore: 1e6 }), offer('b', { benchScore: 5e6 }));
    const r = reasonOf(m, task('j', 0, { fuel: 1e9, deadline: NOW + 60_000 }));
    assert.deepEqual(r, { code: 'speed', transient: false, minBenchScore: 1e9 / 60, fastest: 5e6, candidates: 2 });
  });

  test('excluded: every provider that fits is excluded by device or owner', () => {
    const m = withOffers(
      offer('a1', { owner: 'alice' }),
      offer('a2', { owner: 'alice' }),
      offer('b1', { owner: 'bob' }),
      offer('dear', { pricePerMCU: 9 }),
    );
    const r = reasonOf(m, task('j', 0, { excludeOwners: ['alice'], excludeDevices: ['b1', 'a1', 'nobody'] }));
    assert.deepEqual(r, { code: 'excluded', transient: false, candidates: 3, excluded: 3 });
    assert.equal(describeUnplaced(r), 'all 3 eligible providers excluded (by device or owner)');
  });

  test('busy: eligible providers exist but are full; only this one is transient', () => {
    const m = withOffers(offer('a', { owner: 'alice' }), offer('b', { owner: 'bob' }), offer('c', { owner: 'carol', maxConcurrent: 0 }));
    m.enqueue(task('j', 0));
    m.enqueue(task('j', 1));
    m.assign({ now: NOW });
    const r = reasonOf(m, task('j', 2, { excludeOwners: ['bob'] }));
    assert.deepEqual(r, { code: 'busy', transient: true, eligible: 2, excluded: 1 });
    assert.match(describeUnplaced(r), /^all providers busy/);
  });

  test('deadline passed: reported once and dropped from the queue', () => {
    const m = withOffers(offer('a'));
    m.enqueue(task('j', 0, { deadline: NOW }));
    const r = m.assign({ now: NOW });
    assert.deepEqual(r.unplaced[0]!.reason, { code: 'deadline-passed', transient: false, deadline: NOW, now: NOW });
    assert.equal(m.queueLength, 0);
    assert.equal(m.assign({ now: NOW }).unplaced.length, 0);
  });

  test('checks are reported in order: price before memory before attributes', () => {
    const m = withOffers(offer('a', { pricePerMCU: 0.01, memoryBytes: MiB }));
    assert.equal(reasonOf(m, task('j', 0, { maxPrice: 0.001, memoryBytes: 64 * MiB, requiredAttributes: { gpu: 'x' } })).code, 'price');
  });

  test('a permanently unplaced task stays queued and matches once a provider appears', () => {
    const m = withOffers(offer('a', { memoryBytes: 32 * MiB }));
    m.enqueue(task('j', 0));
    assert.equal(m.assign({ now: NOW }).unplaced[0]!.reason.code, 'memory');
    m.upsertOffer(offer('a', { memoryBytes: 64 * MiB }));
    assert.deepEqual(devicesOf(m.assign({ now: NOW }).assigned), ['a']);
  });
});

describe('job specs to queued tasks', () => {
  test('queuedTasksOf carries the job limits to every task', () => {
    const tasks = queuedTasksOf('job1', {
      tasks: [{ index: 0 }, { index: 1 }],
      resources: { memoryBytes: 64 * MiB, fuel: 2e9 },
      maxPrice: 0.002,
      attributes: { region: 'eu' },
      deadline: NOW + HOUR,
    });
    assert.deepEqual(tasks[1], {
      job: 'job1',
      task: 1,
      memoryBytes: 64 * MiB,
      fuel: 2e9,
      maxPrice: 0.002,
      deadline: NOW + HOUR,
      requiredAttributes: { region: 'eu' },
    });
  });
});

describe('reputation', () => {
  test('verified results move toward 1 slowly, timeouts down, a caught lie far down', () => {
    assert.equal(updateReputation(0.5, 'verified'), 0.5 + 0.05 * 0.5);
    assert.equal(updateReputation(0.5, 'timeout'), 0.45);
    assert.equal(updateReputation(0.5, 'vanished'), 0.45);
    assert.ok(Math.abs(updateReputation(0.9, 'lie') - 0.09) < 1e-15);
    assert.equal(updateReputation(1, 'verified'), 1);
    assert.equal(updateReputation(0, 'lie'), 0);
    assert.equal(INITIAL_REPUTATION, 0.5);
    assert.deepEqual(REPUTATION_RULES, { verified: 0.05, timeout: 0.1, lie: 0.9 });
  });

  test('one lie costs more than many verified results earn', () => {
    const honest = replayReputation(Array(20).fill('verified'));
    const liar = replayReputation([...Array(19).fill('verified'), 'lie']);
    assert.ok(honest > 0.8 && liar < 0.1, `${honest} ${liar}`);
    let r = updateReputation(0.9, 'lie');
    let n = 0;
    while (r < 0.9) {
      r = updateReputation(r, 'verified');
      n++;
    }
    assert.equal(n, 44);
  });

  test('refuses a reputation outside 0..1 and unknown outcomes', () => {
    assert.throws(() => updateReputation(1.2, 'verified'), RangeError);
    assert.throws(() => updateReputation(Number.NaN, 'verified'), RangeError);
    assert.throws(() => updateReputation(0.5, 'great' as 'verified'), /unknown outcome/);
  });

  test('reputation reorders providers at the same price', () => {
    const m = withOffers(offer('a', { reputation: 0.5 }), offer('b', { reputation: 0.5 }));
    m.upsertOffer(offer('b', { reputation: updateReputation(0.5, 'verified') }));
    m.enqueue(task('j', 0));
    assert.deepEqual(devicesOf(m.assign({ now: NOW }).assigned), ['b']);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: the indexed matcher makes exactly the reference's choices.

type Op =
  | { op: 'upsert'; offer: Offer }
  | { op: 'remove'; device: string }
  | { op: 'enqueue'; task: QueuedTask }
  | { op: 'release' }
  | { op: 'cancel' }
  | { op: 'assign'; now: number; limit?: number };

function randomOps(seed: number, count: number): Op[] {
  const next = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[next() % xs.length]!;
  const devices = Array.from({ length: 6 + (next() % 20) }, (_, i) => `d${String(i).padStart(2, '0')}`);
  const owners = ['alice', 'bob', 'carol', 'dave'];
  // Few distinct values, so that ties (same price, same quality) are common.
  const prices = [0.0005, 0.001, 0.001, 0.0015, 0.002, 0.004];
  const memories = [16, 32, 64, 64, 128, 512].map((x) => x * MiB);
  const scores = [1e6, 5e6, 1e7, 1e8];
  const reputations = [0, 0.25, 0.5, 0.5, 1];
  const attributeSets: Record<string, string>[] = [{}, {}, { gpu: 'a100' }, { region: 'eu' }, { gpu: 'a100', region: 'eu' }];
  const ops: Op[] = [];
  const latest = new Map<string, Offer>();
  let now = NOW;
  let taskId = 0;
  for (let i = 0; i < count; i++) {
    const r = next() % 100;
    const device = pick(devices);
    const last = latest.get(device);
    if (r < 20 && last && next() % 2 === 0) {
      // The same offer with only memory or capacity changed: the index's point-update path.
      const tweaked = { ...last, memoryBytes: pick(memories), maxConcurrent: next() % 4 };
      latest.set(device, tweaked);
      ops.push({ op: 'upsert', offer: tweaked });
    } else if (r < 20) {
      const fresh: Offer = {
        device,
        owner: pick(owners),
        cores: 1 + (next() % 8),
        memoryBytes: pick(memories),
        benchScore: pick(scores),
        pricePerMCU: pick(prices),
        reputation: pick(reputations),
        attributes: pick(attributeSets),
        maxConcurrent: next() % 4,
      };
      latest.set(device, fresh);
      ops.push({ op: 'upsert', offer: fresh });
    } else if (r < 23) ops.push({ op: 'remove', device: pick(devices) });
    else if (r < 60) {
      const n = taskId++;
      ops.push({
        op: 'enqueue',
        task: {
          job: `job${n % 5}`,
          task: n,
          run: next() % 2,
          memoryBytes: pick(memories),
          fuel: pick([1e6, 1e8, 1e9, 5e9]),
          maxPrice: pick(prices),
          deadline: now + pick([-1000, 1000, 60_000, HOUR]),
          ...(next() % 3 === 0 ? { requiredAttributes: pick(attributeSets) } : {}),
          ...(next() % 3 === 0 ? { excludeDevices: [pick(devices), pick(devices)] } : {}),
          ...(next() % 4 === 0 ? { excludeOwners: [pick(owners)] } : {}),
        },
      });
    } else if (r < 75) ops.push({ op: 'release' });
    else if (r < 78) ops.push({ op: 'cancel' });
    else {
      now += next() % 5000;
      ops.push({ op: 'assign', now, ...(next() % 3 === 0 ? { limit: 1 + (next() % 4) } : {}) });
    }
  }
  ops.push({ op: 'assign', now: now + 1 });
  return ops;
}

/** Runs the operations on one matcher and returns everything it said, in order. */
function transcript(m: Matcher | ReferenceMatcher, ops: Op[], seed: number): unknown[] {
  const next = seededRandom(seed ^ 0x5eed);
  const running: Assignment[] = [];
  const queued: QueuedTask[] = [];
  const out: unknown[] = [];
  for (const o of ops) {
    switch (o.op) {
      case 'upsert':
        m.upsertOffer(o.offer);
        break;
      case 'remove':
        out.push(['removed', m.removeProvider(o.device)]);
        break;
      case 'enqueue':
        try {
          m.enqueue(o.task);
          queued.push(o.task);
        } catch (err) {
          out.push(['refused', (err as Error).message]);
        }
        break;
      case 'release':
        if (running.length) {
          const [a] = running.splice(next() % running.length, 1);
          out.push(['released', m.release(a!)]);
        }
        break;
      case 'cancel':
        if (queued.length) {
          const [t] = queued.splice(next() % queued.length, 1);
          out.push(['cancelled', m.cancel(t!)]);
        }
        break;
      case 'assign': {
        const r = m.assign({ now: o.now, ...(o.limit ? { limit: o.limit } : {}) });
        running.push(...r.assigned);
        out.push(['assign', r.assigned, r.unplaced.map((u) => [u.task.job, u.task.task, u.task.run ?? 0, u.reason])]);
        out.push(['counts', m.queueLength, m.inFlightCount]);
      }
    }
  }
  return out;
}

describe('the indexed matcher against the linear reference', () => {
  test('the same assignments and reasons on 200 random operation sequences (fixed seeds)', () => {
    let assignments = 0;
    const codes = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const ops = randomOps(seed, 150);
      const fast = transcript(new Matcher(), ops, seed);
      const slow = transcript(new ReferenceMatcher(), ops, seed);
      assert.deepEqual(fast, slow, `seed ${seed}`);
      for (const entry of fast as [string, ...unknown[]][])
        if (entry[0] === 'assign') {
          assignments += (entry[1] as unknown[]).length;
          for (const u of entry[2] as [string, number, number, UnplacedReason][]) codes.add(u[3].code);
        }
    }
    // The sequences exercise what they should: many placements and every kind of reason.
    assert.ok(assignments > 1000, `${assignments} assignments`);
    assert.deepEqual([...codes].sort(), ['attributes', 'busy', 'deadline-passed', 'excluded', 'memory', 'no-providers', 'price', 'speed']);
  });

  test('deterministic: the same inputs give the same transcript run after run', () => {
    const ops = randomOps(4242, 400);
    assert.deepEqual(transcript(new Matcher(), ops, 4242), transcript(new Matcher(), ops, 4242));
  });
});
