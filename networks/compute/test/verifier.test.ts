// The compute verifier turns a spot-checker's verdict into a finding only when the signed results
// in it prove the lie: the accused's own signature on another claim, and the confirmed claim from
// two devices of two owners. Anything less is rejected with the reason, and no one is accused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Address, Hex } from 'viem';
import {
  DeviceTable,
  deviceIdHex,
  deviceIdOf,
  devicePublicKey,
  generateDeviceKey,
  ObjectRows,
  type Report,
  signReport,
  type VerifierInput,
} from '@groundwork/protocol';
import {
  type ComputeParameters,
  claimOf,
  DEFAULT_COMPUTE_PARAMETERS,
  type ResultBody,
  type Verdict,
  verifyCompute,
} from '../src/plugin/index.ts';

const domain = { chainId: 31337, registry: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Address };
const JOB = `0x${'11'.repeat(32)}` as Hex;
const MODULE = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';
const GOOD = 'bafkreidon73zkcrwdb5iafqtijxildoonbwnpv7dyd6ef3qdgads2jc4su';
const BAD = 'bafkreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454';

const providers = [0, 1, 2, 3].map((i) => {
  const key = generateDeviceKey();
  const pub = devicePublicKey(key.publicKey);
  return { key, pub, device: deviceIdHex(deviceIdOf(pub)), owner: `0x${String(i + 1).repeat(40)}` as Address };
});
// Providers 2 and 3 share an owner: their agreement is one owner's word.
providers[3]!.owner = providers[2]!.owner;

function devices(): DeviceTable {
  const t = new DeviceTable();
  for (const p of [...providers].sort((a, b) => (a.device < b.device ? -1 : 1))) {
    t.push({ device: p.device, owner: p.owner, network: 'compute', keyX: p.pub.x, keyY: p.pub.y, stake: '10', registeredAt: 1 });
  }
  return t;
}

function result(i: number, output: string, units = '1000'): Report {
  const body: ResultBody = { job: JOB, task: 0, run: i, module: MODULE, output, computeUnits: units, exitCode: 0, error: null };
  const p = providers[i]!;
  return signReport({ v: 1, ...domain, network: 'compute', type: 'result', device: p.device, epoch: 5, body }, p.key.privateKey);
}

function run(verdicts: Verdict[]) {
  const rows = new ObjectRows<unknown>();
  for (const v of verdicts) rows.push(v);
  const input = { epoch: 5, start: 0, end: 10, parameters: DEFAULT_COMPUTE_PARAMETERS, devices: devices(), oracleInputs: rows };
  return verifyCompute(input as unknown as VerifierInput<ComputeParameters, ObjectRows<unknown>>);
}

const claim = (r: Report) => claimOf(r.body as ResultBody);

describe('compute verifier', () => {
  test('a proven lie is one finding with the signed results as evidence; scores stay 0 (compute pays by usage)', () => {
    const liar = result(0, BAD);
    const a = result(1, GOOD);
    const b = result(2, GOOD);
    const out = run([{ job: JOB, task: 0, accused: providers[0]!.device, confirmed: claim(a), results: [liar, a, b] }]);
    assert.equal(out.findings?.length, 1);
    const f = out.findings![0]!;
    assert.equal(f.device, providers[0]!.device);
    assert.equal(f.kind, 'wrong-output');
    assert.equal(f.amount, DEFAULT_COMPUTE_PARAMETERS.slashAmount);
    assert.deepEqual((f.evidence as { results: Report[] }).results, [liar, a, b]);
    assert.equal(out.rejections.length, 0);
    assert.ok(out.scores.every((s) => s === 0));
  });

  test('billing more compute units than were run is a lie too', () => {
    const liar = result(0, GOOD, '999999');
    const a = result(1, GOOD);
    const b = result(2, GOOD);
    const out = run([{ job: JOB, task: 0, accused: providers[0]!.device, confirmed: claim(a), results: [liar, a, b] }]);
    assert.equal(out.findings?.length, 1);
  });

  test('verdicts that prove nothing are rejected with the reason, and accuse no one', () => {
    const liar = result(0, BAD);
    const a = result(1, GOOD);
    const b = result(2, GOOD);
    const sameOwner = result(3, GOOD);
    const forged = { ...b, body: { ...b.body, output: GOOD, computeUnits: '1000' }, sig: a.sig };
    const cases: [string, Verdict][] = [
      ['forged signature', { job: JOB, task: 0, accused: providers[0]!.device, confirmed: claim(a), results: [liar, a, forged] }],
      ['one owner agreeing', { job: JOB, task: 0, accused: providers[0]!.device, confirmed: claim(b), results: [liar, b, sameOwner] }],
      [
        'accused claimed the confirmed output',
        { job: JOB, task: 0, accused: providers[1]!.device, confirmed: claim(a), results: [a, b, sameOwner] },
      ],
      ['accused is not the first signer', { job: JOB, task: 0, accused: providers[1]!.device, confirmed: claim(a), results: [liar, a, b] }],
      ['another task', { job: JOB, task: 1, accused: providers[0]!.device, confirmed: claim(a), results: [liar, a, b] }],
    ];
    for (const [name, v] of cases) {
      const out = run([v]);
      assert.equal(out.findings?.length ?? 0, 0, name);
      assert.equal(out.rejections.length, 1, name);
      assert.equal(out.rejections.get(0).reason, 'verdict-unproven', name);
    }
  });

  test('two lies of one device in an epoch are one finding (its stake is slashed once per epoch)', () => {
    const a = result(1, GOOD);
    const b = result(2, GOOD);
    const v: Verdict = { job: JOB, task: 0, accused: providers[0]!.device, confirmed: claim(a), results: [result(0, BAD), a, b] };
    assert.equal(run([v, { ...v }]).findings?.length, 1);
  });
});
