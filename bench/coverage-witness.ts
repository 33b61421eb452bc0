/**
 * Witness reports verified per second (issue 11):
 *
 *   node --import tsx bench/coverage-witness.ts [--hotspots N] [--json]
 *
 * N hotspots (default 400) in the simulated city, each with its own P-256 key, play one beacon
 * round through the world: every beacon and every witness is a signed report. Timed: the full
 * verification of every report as the oracle does it (its signature against the device key, then
 * the round with all of Helium's beacon and witness checks, HIP-17 and the reward units), against
 * the raw P-256 verification of the same reports' signing bytes with node:crypto, in the same run.
 * The ratio is full rate / raw rate; the target is ≥ 0.5 (the checks cost at most what the
 * signatures do).
 */
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { parseArgs } from 'node:util';
import { latLngToCell } from 'h3-js';
import { DEFAULT_COVERAGE_PARAMETERS, judgeRound } from '../networks/coverage/src/index.ts';
import { deviceIdHex, deviceIdOf, devicePublicKey, reportSigningBytes, verifyReport } from '../protocol/src/index.ts';
import { CoverageWorld, type FleetHotspot, fleetRows, playRound } from '../sim/src/index.ts';

const { values } = parseArgs({ options: { hotspots: { type: 'string', default: '400' }, json: { type: 'boolean', default: false } } });
const N = Number(values.hotspots);
const TARGET = 0.5;
const world = new CoverageWorld({ seed: 3, radiusKm: 8 });
const fleet: (FleetHotspot & { publicKey: ReturnType<typeof createPublicKey> })[] = [];
for (let i = 0; i < N; i++) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const device = deviceIdHex(deviceIdOf(devicePublicKey(privateKey)));
  const [lat, lng] = world.randomPlace();
  world.place(device, [lat, lng]);
  fleet.push({ device, cell: latLngToCell(lat, lng, 12), key: privateKey, publicKey: createPublicKey(privateKey) });
}
const startMs = 1_800_000_000_000;
const { rows, entropy } = fleetRows(world, fleet, startMs, 3);
// A network past its first round: every hotspot has witnessed and been witnessed (HIP-106), so
// the reports that pass every other check pass reciprocity too and go on to selection and scoring.
const history = fleet.map((h) => ({
  kind: 'history' as const,
  device: h.device,
  witnessedAt: startMs - 60_000,
  beaconWitnessedAt: startMs - 60_000,
}));
process.stderr.write(`playing one round of ${N} hotspots\n`);
const { reports, signed } = playRound({ world, fleet, entropy, seed: 3, domain: { chainId: 31337, registry: `0x${'11'.repeat(20)}` } });
const witnesses = reports.filter((r) => r.type === 'coverage.witness').length;
const keyOf = new Map(fleet.map((h) => [h.device as string, h.publicKey]));
// What ingest hashes and verifies, prepared once for both: the timing is of the checks themselves.
const signingBytes = signed.map((r) => reportSigningBytes(r));

function best(runs: number, fn: () => void): number {
  let ms = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
}

let rawOk = 0;
const rawMs = best(3, () => {
  rawOk = 0;
  for (let i = 0; i < signed.length; i++) {
    const r = signed[i]!;
    const der = Buffer.from(r.sig.slice(2), 'hex');
    if (verify('sha256', signingBytes[i]!, { key: keyOf.get(r.device)!, dsaEncoding: 'ieee-p1363' }, der)) rawOk++;
  }
});
let fullOk = 0;
let rejected = 0;
let rewarded = 0;
const fullMs = best(3, () => {
  fullOk = 0;
  for (const r of signed) if (verifyReport(r, keyOf.get(r.device)!)) fullOk++;
  const judged = judgeRound({
    startMs,
    endMs: startMs + 3600_000,
    parameters: DEFAULT_COVERAGE_PARAMETERS,
    rows: [...rows, ...history],
    reports,
  });
  rejected = judged.round.rejections.length;
  rewarded = [...judged.round.selected.values()].reduce((n, w) => n + w.length, 0);
});
const rawRate = (signed.length / rawMs) * 1000;
const fullRate = (signed.length / fullMs) * 1000;
const result = {
  hotspots: N,
  reports: signed.length,
  witnesses,
  rejected,
  rewardedWitnesses: rewarded,
  signaturesValid: rawOk === signed.length && fullOk === signed.length,
  raw: { ms: Math.round(rawMs), perSecond: Math.round(rawRate) },
  full: { ms: Math.round(fullMs), perSecond: Math.round(fullRate) },
  ratio: fullRate / rawRate,
  target: TARGET,
  met: fullRate / rawRate >= TARGET,
};
process.stderr.write(
  `${signed.length.toLocaleString('en-US')} reports (${witnesses.toLocaleString('en-US')} witnesses): full verification ${result.full.perSecond.toLocaleString('en-US')}/s, ` +
    `raw P-256 ${result.raw.perSecond.toLocaleString('en-US')}/s, ratio ${result.ratio.toFixed(3)} (target >= ${TARGET})\n`,
);
if (!result.signaturesValid) {
  process.stderr.write('a signature did not verify: the benchmark is broken\n');
  process.exitCode = 1;
}
if (values.json) console.log(JSON.stringify(result));
else console.log(result);
