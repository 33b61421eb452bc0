// The service's pure rules: which tasks get a spot check (a keyed draw anyone can recompute, at the
// job's rate: a liar is re-run, and so caught, on that share of its tasks) and what a run costs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keccak256, toHex } from 'viem';
import { expiredBlobs, refuseOverCap } from '../src/plugin/blob-retention.ts';
import { runCost, spotChecked } from '../src/plugin/index.ts';

describe('spot checks', () => {
  test('over 2,000 tasks of a fixed job the checked share is the rate, within four standard deviations', () => {
    const job = keccak256(toHex('a fixed job'));
    for (const rate of [0.05, 0.1, 0.5]) {
      let checked = 0;
      for (let t = 0; t < 2000; t++) if (spotChecked(job, t, rate)) checked++;
      const sigma = Math.sqrt((rate * (1 - rate)) / 2000);
      assert.ok(Math.abs(checked / 2000 - rate) <= 4 * sigma, `rate ${rate}: ${checked} of 2000 checked`);
    }
  });

  test('the draw is a function of job and task only, and the rates 0 and 1 are exact', () => {
    const job = keccak256(toHex('another job'));
    const a = Array.from({ length: 200 }, (_, t) => spotChecked(job, t, 0.3));
    const b = Array.from({ length: 200 }, (_, t) => spotChecked(job, t, 0.3));
    assert.deepEqual(a, b);
    assert.ok(Array.from({ length: 200 }, (_, t) => spotChecked(job, t, 0)).every((x) => !x));
    assert.ok(Array.from({ length: 200 }, (_, t) => spotChecked(job, t, 1)).every((x) => x));
  });
});

describe('run cost', () => {
  test('compute units × price per million units, rounded up to whole credits', () => {
    // 0.5 credits per million units = 500,000 micro-credits per million units.
    assert.equal(runCost(1_000_000n, 500_000n), 1n);
    assert.equal(runCost(2_000_000n, 500_000n), 1n);
    assert.equal(runCost(2_000_001n, 500_000n), 2n);
    assert.equal(runCost(580_000_000n, 2_000n), 2n, 'a demo frame at 0.002: 1.16 credits, rounded up');
    assert.equal(runCost(0n, 500_000n), 0n);
  });
});

describe('blob retention', () => {
  const H = 3600_000;
  const blobs = [
    { cid: 'old-unused', bytes: 10, storedAt: 0 },
    { cid: 'old-in-use', bytes: 10, storedAt: 0 },
    { cid: 'fresh', bytes: 10, storedAt: 23 * H },
  ];
  test('past retention and named by no running job: deleted; in use or fresh: kept', () => {
    assert.deepEqual(expiredBlobs(blobs, new Set(['old-in-use']), 24 * H, 12 * H), ['old-unused']);
    assert.deepEqual(expiredBlobs(blobs, new Set(), 24 * H, 24 * H), [], 'exactly at the retention is kept');
    assert.deepEqual(expiredBlobs(blobs, new Set(), 48 * H, 12 * H), ['old-unused', 'old-in-use', 'fresh']);
  });
  test('an upload past the cap is refused with what the store holds', () => {
    assert.equal(refuseOverCap(90, 10, 100), null);
    assert.match(refuseOverCap(91, 10, 100) ?? '', /holds 91 of its 100 bytes; 10 more do not fit/);
  });
});
