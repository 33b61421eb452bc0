// EpochClock: the same arithmetic as Emissions.currentEpoch on chain.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EpochClock } from '../src/epoch.ts';

const GENESIS = 1_700_000_000;
const clock = new EpochClock({ genesisTime: GENESIS, epochDuration: 30 });

describe('EpochClock', () => {
  test('keeps genesis and duration as numbers, from numbers or bigints', () => {
    const fromBig = new EpochClock({ genesisTime: BigInt(GENESIS), epochDuration: 30n });
    assert.equal(fromBig.genesisTime, GENESIS);
    assert.equal(fromBig.duration, 30);
    assert.equal(typeof fromBig.genesisTime, 'number');
    assert.equal(fromBig.epochAt(GENESIS + 95), clock.epochAt(GENESIS + 95));
  });

  test('epochAt: whole epochs since genesis, rounding down', () => {
    assert.equal(clock.epochAt(GENESIS), 0);
    assert.equal(clock.epochAt(GENESIS + 29), 0);
    assert.equal(clock.epochAt(GENESIS + 30), 1);
    assert.equal(clock.epochAt(GENESIS + 59), 1);
    assert.equal(clock.epochAt(GENESIS + 60), 2);
    assert.equal(clock.epochAt(GENESIS + 30 * 1000 + 17), 1000);
    assert.equal(clock.epochAt(GENESIS + 29.999), 0);
  });

  test('epochAt before genesis is 0, as on chain', () => {
    assert.equal(clock.epochAt(GENESIS - 1), 0);
    assert.equal(clock.epochAt(0), 0);
    assert.equal(clock.epochAt(-1_000_000), 0);
  });

  test('start and end', () => {
    assert.equal(clock.start(0), GENESIS);
    assert.equal(clock.end(0), GENESIS + 30);
    assert.equal(clock.start(7), GENESIS + 210);
    assert.equal(clock.end(7), GENESIS + 240);
  });

  test('boundaries: end(e) is start(e+1); epochAt(start(e)) is e, epochAt(end(e)) is e+1, epochAt(end(e) − 1) is e', () => {
    for (const c of [
      clock,
      new EpochClock({ genesisTime: 0, epochDuration: 1 }),
      new EpochClock({ genesisTime: 5, epochDuration: 86_400 }),
    ]) {
      for (const e of [0, 1, 2, 9, 100, 12_345]) {
        assert.equal(c.end(e), c.start(e + 1));
        assert.equal(c.end(e) - c.start(e), c.duration);
        assert.equal(c.epochAt(c.start(e)), e);
        assert.equal(c.epochAt(c.end(e) - 1), e);
        assert.equal(c.epochAt(c.end(e)), e + 1);
      }
    }
  });

  test('epochAtMs: floor to the second, then epochAt', () => {
    const ms = GENESIS * 1000;
    assert.equal(clock.epochAtMs(ms), 0);
    assert.equal(clock.epochAtMs(ms + 29_999), 0);
    assert.equal(clock.epochAtMs(ms + 30_000), 1);
    assert.equal(clock.epochAtMs(clock.end(4) * 1000 - 1), 4);
    assert.equal(clock.epochAtMs(clock.end(4) * 1000), 5);
    assert.equal(clock.epochAtMs(ms - 1), 0);
    assert.equal(clock.epochAtMs(0), 0);
  });

  test('constructor refuses negative, fractional or unsafe genesis and non-positive or fractional durations', () => {
    const bad: [number | bigint, number | bigint][] = [
      [-1, 30],
      [1.5, 30],
      [Number.NaN, 30],
      [Number.POSITIVE_INFINITY, 30],
      [2n ** 64n, 30],
      [0, 0],
      [0, -30],
      [0, 0.5],
      [0, Number.NaN],
      [0, 2n ** 60n],
      [0, 0n],
    ];
    for (const [genesisTime, epochDuration] of bad) {
      assert.throws(() => new EpochClock({ genesisTime, epochDuration }), RangeError, `${genesisTime}, ${epochDuration}`);
    }
    assert.doesNotThrow(() => new EpochClock({ genesisTime: 0, epochDuration: 1 }));
  });
});
