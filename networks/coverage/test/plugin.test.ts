// The coverage plug-in's pure parts: what its rows and reports accept (a coarse asserted cell would
// make HIP-17 throw and block the close, so it is no location at all), the payload and entropy
// derivations, and the sensor frame's MIC.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cellToParent, latLngToCell } from 'h3-js';
import {
  beaconPayload,
  coverageInputSchema,
  DEFAULT_COVERAGE_PARAMETERS,
  entropyId,
  judgeRound,
  Sensor,
  uplinkMic,
  witnessBodySchema,
} from '../src/index.ts';

const device = `0x${'ab'.repeat(32)}` as const;
const cell12 = latLngToCell(37.77, -122.42, 12);

test('a hotspot row takes only a resolution-12 cell (or none)', () => {
  const row = { kind: 'hotspot', device, cell: cell12, gainDdbi: 30, elevationM: 10, region: 'US915' };
  assert.ok(coverageInputSchema.safeParse(row).success);
  assert.ok(coverageInputSchema.safeParse({ ...row, cell: null }).success);
  const coarse = coverageInputSchema.safeParse({ ...row, cell: cellToParent(cell12, 7) });
  assert.ok(!coarse.success);
  assert.match(coarse.error.issues[0]!.message, /resolution 12/);
  assert.ok(!coverageInputSchema.safeParse({ ...row, region: 'MARS' }).success, 'a region RP002 does not have');
  assert.ok(!coverageInputSchema.safeParse({ ...row, gainDdbi: 151 }).success, 'more than 15 dBi');
  assert.ok(
    !witnessBodySchema.safeParse({ payload: `0x${'00'.repeat(32)}`, frequencyHz: 904_300_000, signalDdbm: -95.5, snrDdb: 30 }).success,
    'tenths are integers',
  );
});

test('payloads and entropy are what anyone can recompute, and change with every input', () => {
  const e = entropyId(`0x${'11'.repeat(32)}`, `0x${'22'.repeat(32)}`);
  assert.equal(e, entropyId(`0x${'11'.repeat(32)}`, `0x${'22'.repeat(32)}`));
  assert.notEqual(e, entropyId(`0x${'11'.repeat(32)}`, `0x${'23'.repeat(32)}`));
  const p = beaconPayload(e, device, `0x${'33'.repeat(16)}`);
  assert.match(p, /^0x[0-9a-f]{64}$/);
  assert.notEqual(p, beaconPayload(e, device, `0x${'34'.repeat(16)}`), 'the local entropy is in it');
  assert.notEqual(p, beaconPayload(e, `0x${'cd'.repeat(32)}`, `0x${'33'.repeat(16)}`), 'the beaconer is in it');
});

test('an entropy row that does not hash to its id is refused, and beacons on it are unknown-entropy', () => {
  const start = 1_800_000_000_000;
  const judged = judgeRound({
    startMs: start,
    endMs: start + 60_000,
    parameters: DEFAULT_COVERAGE_PARAMETERS,
    rows: [
      {
        kind: 'entropy',
        id: `0x${'99'.repeat(32)}`,
        start,
        blockNumber: 1,
        blockHash: `0x${'11'.repeat(32)}`,
        random: `0x${'22'.repeat(32)}`,
      },
      { kind: 'hotspot', device, cell: cell12, gainDdbi: 30, elevationM: 10, region: 'US915' },
    ],
    reports: [
      {
        digest: `0x${'01'.repeat(32)}`,
        device,
        type: 'coverage.beacon',
        body: {
          entropy: `0x${'99'.repeat(32)}`,
          localEntropy: `0x${'33'.repeat(16)}`,
          payload: `0x${'44'.repeat(32)}`,
          frequencyHz: 904_300_000,
          txPowerDdbm: 270,
        },
        receivedAt: start + 1000,
      },
    ],
  });
  assert.deepEqual(
    judged.refused.map((r) => r.reason),
    ['bad-entropy'],
  );
  assert.deepEqual(
    judged.round.rejections.map((r) => r.reason),
    ['unknown-entropy'],
  );
});

test("a sensor's frames: a new counter each, a MIC only its key makes", () => {
  const s = Sensor.random();
  const a = s.frame(Buffer.from('x'));
  const b = s.frame(Buffer.from('x'));
  assert.equal(b.fcnt, a.fcnt + 1);
  assert.notEqual(a.mic, b.mic);
  assert.equal(uplinkMic(s.key, s.id, a.fcnt, a.data), a.mic);
  assert.notEqual(uplinkMic(Buffer.alloc(16), s.id, a.fcnt, a.data), a.mic);
  assert.throws(() => s.frame(Buffer.alloc(256)), /at most 255 bytes/);
  assert.throws(() => new Sensor('XYZ', Buffer.alloc(16)), /16 lowercase hex digits/);
});
