// Fraud findings in the epoch close, with a test-only plug-in (not shipped) whose verifier is
// uptime's plus a finding for each device its parameters name as a cheater: the finding is in the
// artifact with the keccak256 of its evidence, the artifact round-trips through the streaming
// reader and the byte comparison, the schema refuses tampered evidence or a wrong hash, and the
// honest devices are paid exactly what they are paid when the cheater is an ordinary device that
// scores 0.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { type Address, type Hex, keccak256, stringToBytes } from 'viem';
import { z } from 'zod';
import uptimeNetwork, { type ChallengeTable, DEFAULT_PARAMETERS, parametersSchema } from '@groundwork/network-uptime';
import { compareArtifact } from '../src/artifact-compare.ts';
import { ArtifactError, readArtifact } from '../src/artifact-reader.ts';
import { findingSchema } from '../src/artifact-schema.ts';
import { deviceIdHex, deviceIdOf, devicePublicKey, generateDeviceKey } from '../src/device-key.ts';
import { canonicalJson, evidenceHash } from '../src/encoding.ts';
import {
  ARTIFACT_FORMAT,
  computeEpoch,
  computeEpochTables,
  EpochInputError,
  type EpochInputs,
  type EpochResult,
  encodeArtifact,
  reportDigest,
  tablesFromInputs,
  writeArtifact,
} from '../src/epoch-close.ts';
import { JsonWriter } from '../src/json-writer.ts';
import type { AcceptedReport, DeviceSnapshot, NetworkPlugin, VerifierOutput } from '../src/network.ts';
import { signReport } from '../src/report.ts';
import type { Challenge, Domain } from '../src/schemas.ts';

// ---------------------------------------------------------------------------------------------
// The test plug-in: uptime, plus parameters naming cheaters. `asFinding` false makes them ordinary
// zero-scoring devices instead (no finding): the baseline the honest rewards are compared with.

const testParameters = parametersSchema.extend({
  cheaters: z.array(z.string().regex(/^0x[0-9a-f]{64}$/)),
  asFinding: z.boolean(),
  amount: z.string(),
});
type TestParameters = z.infer<typeof testParameters>;

const plantedNetwork: NetworkPlugin<TestParameters, ChallengeTable> = {
  ...(uptimeNetwork as unknown as NetworkPlugin<TestParameters, ChallengeTable>),
  description: 'uptime with planted cheaters (test only)',
  parameters: { schema: testParameters, defaults: { ...DEFAULT_PARAMETERS, cheaters: [], asFinding: true, amount: '5' }, references: {} },
  verify(input): VerifierOutput {
    const out = uptimeNetwork.verify(input);
    const cheaters = new Set(input.parameters.cheaters);
    if (!input.parameters.asFinding) {
      const scores = Uint32Array.from(out.scores);
      for (let row = 0; row < input.devices.length; row++) if (cheaters.has(input.devices.device.get(row)!)) scores[row] = 0;
      return { ...out, scores };
    }
    const findings = [];
    for (let row = 0; row < input.devices.length; row++) {
      const device = input.devices.device.get(row)!;
      if (!cheaters.has(device)) continue;
      // Evidence anyone can recheck from the artifact: the digests of the reports it judged.
      const answers: string[] = [];
      for (const r of input.order) if (input.deviceRows[r] === row) answers.push(input.reports.digest.get(r)!);
      findings.push({
        device,
        kind: 'planted-fraud',
        amount: input.parameters.amount,
        evidence: { epoch: input.epoch, device, answers, note: 'planted — ü' },
      });
    }
    return { ...out, findings };
  },
};
const plugins = { uptime: plantedNetwork };

// ---------------------------------------------------------------------------------------------
// An epoch: A and B honest (B with usage), X the cheater (answers everything, with usage).

const domain: Domain = { chainId: 31337, registry: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
const EPOCH = 7;
const START = 1_700_000_300;
const START_MS = START * 1000;
const O1 = '0xcccccccccccccccccccccccccccccccccccccccc' as Address;
const O2 = '0x0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a' as Address;
const OX = '0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' as Address;

type Dev = { key: ReturnType<typeof generateDeviceKey>; id: Hex; snapshot: DeviceSnapshot };
function makeDevice(owner: Address): Dev {
  const key = generateDeviceKey();
  const pub = devicePublicKey(key.publicKey);
  const id = deviceIdHex(deviceIdOf(pub));
  return { key, id, snapshot: { device: id, owner, network: 'uptime', keyX: pub.x, keyY: pub.y, stake: '1000', registeredAt: START - 10 } };
}
const A = makeDevice(O1);
const B = makeDevice(O2);
const X = makeDevice(OX);
const devices = [A, B, X].sort((p, q) => (p.id < q.id ? -1 : 1));

function challenges(d: Dev): Challenge[] {
  return [0, 1, 2].map((i) => {
    const issuedAt = START_MS + 1000 + 8000 * i;
    return {
      network: 'uptime',
      device: d.id,
      epoch: EPOCH,
      nonce: `0x${createHash('sha256').update(`${d.id}:${i}`).digest('hex')}`,
      issuedAt,
      deadline: issuedAt + DEFAULT_PARAMETERS.deadlineMs,
    };
  });
}
function answer(d: Dev, c: Challenge): AcceptedReport {
  const report = signReport(
    { v: 1, ...domain, network: 'uptime', type: 'uptime.answer', device: d.id, epoch: EPOCH, body: { nonce: c.nonce } },
    d.key.privateKey,
  );
  return { report, digest: reportDigest(report), receivedAt: c.issuedAt + 250 };
}
const chA = challenges(A);
const chB = challenges(B);
const chX = challenges(X);
const reports = [...chA.map((c) => answer(A, c)), answer(B, chB[0]!), answer(B, chB[1]!), ...chX.map((c) => answer(X, c))];

function inputs(parameters: Partial<TestParameters> = {}): EpochInputs {
  return {
    format: ARTIFACT_FORMAT,
    chainId: domain.chainId,
    registry: domain.registry,
    distributor: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512',
    epoch: EPOCH,
    start: START,
    end: START + 30,
    snapshotBlock: '99',
    networks: [
      {
        kind: 'uptime',
        id: `0x${'01'.repeat(32)}`,
        budget: '1000000',
        parameters: { ...plantedNetwork.parameters.defaults, cheaters: [X.id], ...parameters },
        devices: devices.map((d) => d.snapshot),
        usage: [
          { device: B.id, credits: '3' },
          { device: X.id, credits: '5' },
        ].sort((p, q) => (p.device < q.device ? -1 : 1)),
        oracleInputs: [...chA, ...chB, ...chX].sort((p, q) =>
          p.device < q.device ? -1 : p.device > q.device ? 1 : p.issuedAt - q.issuedAt,
        ),
        reports,
        ingestRejections: [],
      },
    ],
    prior: { epoch: null, root: null, total: '0', cumulative: [] },
  };
}

/** The artifact's bytes, streamed from tables (what the oracle writes). */
function streamedArtifact(i: EpochInputs): Buffer {
  const tables = tablesFromInputs(i, plugins);
  const outcome = computeEpochTables(tables, plugins);
  const chunks: Buffer[] = [];
  writeArtifact(new JsonWriter((c) => chunks.push(Buffer.from(c)), 4096), tables, outcome);
  return Buffer.concat(chunks);
}

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, Math.min(bytes.length, at + size));
}

/** Reads, recomputes and compares bytes as `epoch verify` does (short of the chain). */
async function verifyBytes(bytes: Uint8Array) {
  const read = await readArtifact(pieces(bytes, 1000), plugins);
  const outcome = computeEpochTables(read.tables, plugins, { checkSignatures: true });
  const cmp = compareArtifact((o, n) => bytes.subarray(o, o + n), read.size, read.resultOffset, read.tables, outcome);
  return { read, cmp };
}

async function readError(bytes: Uint8Array): Promise<string> {
  try {
    await readArtifact(pieces(bytes, 1000), plugins);
  } catch (err) {
    assert.ok(err instanceof ArtifactError, `${(err as Error).name}: ${(err as Error).message}`);
    return err.message;
  }
  return assert.fail('the artifact was read as if it were well formed');
}

const deviceOf = (r: EpochResult, d: Dev) => r.devices.find((x) => x.device === d.id);
const ownerOf = (r: EpochResult, a: Address) => r.owners.find((x) => x.account === a);

describe('a finding in the artifact', () => {
  const { result } = computeEpoch(inputs(), plugins);
  const net = result.networks[0]!;

  test('the network result lists the finding, with keccak256 of its evidence’s canonical JSON', () => {
    const evidence = {
      epoch: EPOCH,
      device: X.id,
      answers: reports.filter((r) => r.report.device === X.id).map((r) => r.digest),
      note: 'planted — ü',
    };
    assert.deepEqual(net.findings, [
      {
        device: X.id,
        kind: 'planted-fraud',
        amount: '5',
        evidence,
        evidenceHash: keccak256(stringToBytes(canonicalJson(evidence))),
      },
    ]);
    assert.equal(net.findings![0]!.evidenceHash, evidenceHash(evidence));
  });

  test('the cheater scores 0 and earns nothing, its verifier detail kept', () => {
    const score = net.scores.find((s) => s.device === X.id)!;
    assert.equal(score.score, '0');
    assert.deepEqual(score.detail, { challenges: 3, answered: 3 });
    assert.equal(deviceOf(result, X), undefined);
    assert.equal(ownerOf(result, OX), undefined);
  });

  test('the streamed artifact is the object encoder’s bytes, reads back, and recomputes to itself', async () => {
    const i = inputs();
    const bytes = streamedArtifact(i);
    assert.ok(Buffer.from(encodeArtifact({ inputs: i, result }).bytes).equals(bytes));
    const { read, cmp } = await verifyBytes(bytes);
    assert.deepEqual(cmp.inputs, { equal: true, differences: [] });
    assert.deepEqual(cmp.result, { equal: true, differences: [] });
    assert.deepEqual(read.result.networks[0]!.findings, net.findings);
  });

  test('a network without findings has no findings key (old artifacts keep their bytes)', () => {
    const bytes = streamedArtifact(inputs({ cheaters: [] }));
    assert.equal(bytes.indexOf('"findings"'), -1);
    assert.equal('findings' in computeEpoch(inputs({ cheaters: [] }), plugins).result.networks[0]!, false);
  });
});

describe('the schema refuses a finding whose evidence and hash disagree', () => {
  const bytes = streamedArtifact(inputs());
  const text = bytes.toString('utf8');
  const doc = () => JSON.parse(text) as { result: EpochResult };
  const finding = () => doc().result.networks[0]!.findings![0]!;
  const withFinding = (f: unknown) => {
    const d = doc();
    (d.result.networks[0] as { findings: unknown[] }).findings = [f];
    return Buffer.from(canonicalJson(d));
  };

  test('tampered evidence (the hash left as it was)', async () => {
    const f = finding();
    const message = await readError(withFinding({ ...f, evidence: { ...(f.evidence as object), answers: [] } }));
    assert.match(message, /result\.networks\.0\.findings\.0\.evidenceHash: is not keccak256 of the evidence's canonical JSON/);
  });

  test('a wrong hash', async () => {
    const message = await readError(withFinding({ ...finding(), evidenceHash: `0x${'ab'.repeat(32)}` }));
    assert.match(message, /findings\.0\.evidenceHash: is not keccak256/);
  });

  test('a missing or unencodable evidence, a zero amount, an extra key, an empty list', async () => {
    const { evidence: _e, ...noEvidence } = finding();
    assert.match(await readError(withFinding(noEvidence)), /findings\.0\.evidence: .*(nonoptional|undefined)/);
    assert.match(await readError(withFinding({ ...finding(), amount: '0' })), /findings\.0\.amount: must be a positive amount/);
    assert.match(await readError(withFinding({ ...finding(), extra: 1 })), /extra/);
    const d = doc();
    (d.result.networks[0] as { findings: unknown[] }).findings = [];
    assert.match(await readError(Buffer.from(canonicalJson(d))), /findings/);
    assert.equal(findingSchema.safeParse({ ...finding(), evidence: { x: 1.5 } }).success, false);
  });

  test('tampered evidence with its hash recomputed reads, but is not what the inputs give', async () => {
    const f = finding();
    const evidence = { ...(f.evidence as object), answers: [] };
    const { cmp } = await verifyBytes(withFinding({ ...f, evidence, evidenceHash: evidenceHash(evidence) }));
    assert.equal(cmp.inputs.equal, true);
    assert.equal(cmp.result.equal, false);
    assert.match(cmp.result.differences.join('\n'), /result\.networks\[0\]\.findings\[0\]\.evidence/);
  });
});

describe('honest devices are paid as if the cheater were an ordinary device scoring 0', () => {
  const withFinding = computeEpoch(inputs(), plugins).result;
  const zeroScore = computeEpoch(inputs({ asFinding: false }), plugins).result;

  test('the same pools, and the same rewards for A and B and their owners', () => {
    const pools = (r: EpochResult) => ({ usagePool: r.networks[0]!.usagePool, proofPool: r.networks[0]!.proofPool });
    assert.deepEqual(pools(withFinding), pools(zeroScore));
    for (const d of [A, B]) {
      assert.ok(deviceOf(zeroScore, d), `${d === A ? 'A' : 'B'} earns`);
      assert.deepEqual(deviceOf(withFinding, d), deviceOf(zeroScore, d));
    }
    for (const o of [O1, O2]) assert.deepEqual(ownerOf(withFinding, o), ownerOf(zeroScore, o));
    assert.deepEqual(
      withFinding.networks[0]!.scores.map((s) => s.score),
      zeroScore.networks[0]!.scores.map((s) => s.score),
    );
  });

  test('what the ordinary zero-scoring device gets from usage stays undistributed when it is a cheater', () => {
    const ordinary = deviceOf(zeroScore, X)!;
    assert.equal(ordinary.proof, '0');
    assert.ok(BigInt(ordinary.usage) > 0n, 'with usage, an ordinary zero-scoring device earns from the usage pool');
    assert.equal(BigInt(withFinding.paid), BigInt(zeroScore.paid) - BigInt(ordinary.usage));
    assert.equal(BigInt(withFinding.undistributed), BigInt(zeroScore.undistributed) + BigInt(ordinary.usage));
    assert.equal(BigInt(withFinding.total), BigInt(withFinding.paid));
  });
});

describe('a verifier’s bad finding is an input error, not an artifact', () => {
  const broken = (findings: unknown[]): NetworkPlugin<TestParameters, ChallengeTable> => ({
    ...plantedNetwork,
    verify: (input) => ({ ...uptimeNetwork.verify(input), findings: findings as VerifierOutput['findings'] }),
  });
  const run = (findings: unknown[]) => computeEpoch(inputs(), { uptime: broken(findings) });
  const good = { device: X.id, kind: 'planted-fraud', amount: '5', evidence: { a: 1 } };

  test('a device not in the snapshot, a zero amount, a float in the evidence, a bad kind', () => {
    assert.throws(
      () => run([{ ...good, device: `0x${'77'.repeat(32)}` }]),
      (e: Error) => e instanceof EpochInputError && /not in the epoch's snapshot/.test(e.message),
    );
    assert.throws(
      () => run([{ ...good, amount: '0' }]),
      (e: Error) => e instanceof EpochInputError && /finding 0: amount/.test(e.message),
    );
    assert.throws(
      () => run([{ ...good, evidence: { a: 0.5 } }]),
      (e: Error) => e instanceof EpochInputError && /evidence: cannot be encoded/.test(e.message),
    );
    assert.throws(
      () => run([{ ...good, kind: 'Has Spaces' }]),
      (e: Error) => e instanceof EpochInputError && /kind/.test(e.message),
    );
    assert.doesNotThrow(() => run([good]));
  });
});
