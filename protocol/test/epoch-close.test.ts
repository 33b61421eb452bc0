// computeEpoch end to end on a hand-built epoch with the uptime plug-in: expected scores and
// rewards, determinism, signature/digest/registration checks, input errors, the artifact hash
// and diffResults.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Address, Hex } from 'viem';
import uptimeNetwork, { DEFAULT_PARAMETERS } from '@groundwork/network-uptime';
import { deviceIdHex, deviceIdOf, devicePublicKey, generateDeviceKey } from '../src/device-key.ts';
import { canonicalBytes, canonicalJson, sha256Hex } from '../src/encoding.ts';
import {
  ARTIFACT_FORMAT,
  EpochInputError,
  computeEpoch,
  diffResults,
  encodeArtifact,
  reportDigest,
  type EpochInputs,
  type EpochResult,
} from '../src/epoch-close.ts';
import { RewardTree } from '../src/merkle.ts';
import type { AcceptedReport, DeviceSnapshot } from '../src/network.ts';
import { signReport } from '../src/report.ts';
import type { Challenge, Domain } from '../src/schemas.ts';

const plugins = { uptime: uptimeNetwork };
const domain: Domain = { chainId: 31337, registry: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
const EPOCH = 5;
const START = 1_700_000_100; // unix seconds
const START_MS = START * 1000;

const O1 = '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' as Address; // owns A and C
const O2 = '0x0A0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0A' as Address; // owns B
const O3 = '0xBbBBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' as Address; // earned before, nothing now

type Dev = { key: ReturnType<typeof generateDeviceKey>; id: Hex; snapshot: DeviceSnapshot };
function makeDevice(owner: Address): Dev {
  const key = generateDeviceKey();
  const pub = devicePublicKey(key.publicKey);
  const id = deviceIdHex(deviceIdOf(pub));
  return {
    key,
    id,
    snapshot: { device: id, owner, network: 'uptime', keyX: pub.x, keyY: pub.y, stake: '1000', registeredAt: START - 100 },
  };
}
const A = makeDevice(O1);
const B = makeDevice(O2);
const C = makeDevice(O1);
const D = makeDevice(O2); // never registered

function challenges(d: Dev): Challenge[] {
  return [0, 1, 2].map((i) => {
    const issuedAt = START_MS + 1000 + 8000 * i;
    const nonce = createHash('sha256').update(`${d.id}:${i}`).digest('hex');
    return {
      network: 'uptime',
      device: d.id,
      epoch: EPOCH,
      nonce: `0x${nonce}`,
      issuedAt,
      deadline: issuedAt + DEFAULT_PARAMETERS.deadlineMs,
    };
  });
}
const chA = challenges(A);
const chB = challenges(B);
const chC = challenges(C);

function answer(d: Dev, c: Challenge, delay = 300): AcceptedReport {
  const report = signReport(
    { v: 1, ...domain, network: 'uptime', type: 'uptime.answer', device: d.id, epoch: EPOCH, body: { nonce: c.nonce } },
    d.key.privateKey,
  );
  return { report, digest: reportDigest(report), receivedAt: c.issuedAt + delay };
}

// A answers 3/3, B 2/3 (its third answer is late), C 1/3.
const reports: AcceptedReport[] = [
  answer(A, chA[0]!),
  answer(A, chA[1]!),
  answer(A, chA[2]!),
  answer(B, chB[0]!),
  answer(B, chB[1]!),
  answer(B, chB[2]!, DEFAULT_PARAMETERS.deadlineMs + 1),
  answer(C, chC[1]!),
];

function baseInputs(): EpochInputs {
  return {
    format: ARTIFACT_FORMAT,
    chainId: domain.chainId,
    registry: domain.registry,
    distributor: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512',
    epoch: EPOCH,
    start: START,
    end: START + 30,
    snapshotBlock: '1234',
    networks: [
      {
        kind: 'uptime',
        id: `0x${'01'.repeat(32)}`,
        budget: '1000000',
        parameters: { ...DEFAULT_PARAMETERS }, // usageShareBps 5000
        devices: [A.snapshot, B.snapshot, C.snapshot],
        usage: [{ device: B.id, credits: '7' }],
        oracleInputs: [...chA, ...chB, ...chC],
        reports: [...reports],
        ingestRejections: [{ device: A.id, digest: `0x${'ff'.repeat(32)}`, reason: 'bad-signature', detail: 'refused at ingest' }],
      },
    ],
    // Prior accounts are the previous result's cumulative leaves: lowercase.
    prior: { epoch: EPOCH - 1, root: `0x${'aa'.repeat(32)}`, total: '100', cumulative: [{ account: lc(O3), amount: '100' }] },
  };
}

const net0 = (inputs: EpochInputs) => inputs.networks[0]!;
const canon = (r: EpochResult) => canonicalJson(r);
const lc = (a: Address) => a.toLowerCase() as Address;

describe('computeEpoch on a hand-built uptime epoch', () => {
  const { result, tree } = computeEpoch(baseInputs(), plugins);
  const n = result.networks[0]!;

  test('scores: 3/3, 2/3 and 1/3 of SCORE_SCALE, with details', () => {
    assert.deepEqual(n.scores, [
      { device: A.id, score: '1000000', detail: { challenges: 3, answered: 3 } },
      { device: B.id, score: '666666', detail: { challenges: 3, answered: 2 } },
      { device: C.id, score: '333333', detail: { challenges: 3, answered: 1 } },
    ]);
  });

  test('rejections: ingest first, then the verifier’s (late, then unanswered in challenge order)', () => {
    const late = reports[5]!;
    assert.deepEqual(
      n.rejections.map((r) => [r.reason, r.device, r.digest]),
      [
        ['bad-signature', A.id, `0x${'ff'.repeat(32)}`],
        ['late', B.id, late.digest],
        ['unanswered', B.id, null],
        ['unanswered', C.id, null],
        ['unanswered', C.id, null],
      ],
    );
    assert.match(n.rejections[1]!.detail, /received 1 ms after the deadline/);
    assert.ok(n.rejections[2]!.detail.includes(chB[2]!.nonce));
    assert.ok(n.rejections[3]!.detail.includes(chC[0]!.nonce));
    assert.ok(n.rejections[4]!.detail.includes(chC[2]!.nonce));
  });

  test('rewards: pools of 500,000 each; proof by score (sum 1,999,999), usage all to B', () => {
    // proof A = floor(500000 × 1000000 / 1999999) = 250000
    // proof B = floor(500000 × 666666 / 1999999)  = 166666
    // proof C = floor(500000 × 333333 / 1999999)  = 83333
    // usage B = 500000 (the only device with credits)
    assert.deepEqual(
      { budget: n.budget, usagePool: n.usagePool, proofPool: n.proofPool, paid: n.paid, undistributed: n.undistributed },
      { budget: '1000000', usagePool: '500000', proofPool: '500000', paid: '999999', undistributed: '1' },
    );
    assert.deepEqual(result.devices, [
      { network: 'uptime', device: A.id, owner: lc(O1), proof: '250000', usage: '0', total: '250000' },
      { network: 'uptime', device: B.id, owner: lc(O2), proof: '166666', usage: '500000', total: '666666' },
      { network: 'uptime', device: C.id, owner: lc(O1), proof: '83333', usage: '0', total: '83333' },
    ]);
    assert.deepEqual(result.owners, [
      { account: lc(O2), amount: '666666' },
      { account: lc(O1), amount: '333333' },
    ]);
    assert.deepEqual(result.cumulative, [
      { account: lc(O2), amount: '666666' },
      { account: lc(O3), amount: '100' },
      { account: lc(O1), amount: '333333' },
    ]);
    assert.equal(result.total, '1000099');
    assert.equal(result.paid, '999999');
    assert.equal(result.undistributed, '1');
  });

  test('root = RewardTree.of(cumulative).root, and the returned tree is that tree', () => {
    const expected = RewardTree.of(result.cumulative.map((c) => ({ account: c.account, amount: BigInt(c.amount) }))).root;
    assert.match(result.root ?? '', /^0x[0-9a-f]{64}$/);
    assert.equal(result.root, expected);
    assert.ok(tree);
    assert.equal(tree.root, expected);
    assert.equal(tree.length, 3);
  });

  test('the result is plain JSON (strings, numbers, null): a JSON round trip changes nothing', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(result)), result);
  });
});

describe('determinism', () => {
  const reference = canon(computeEpoch(baseInputs(), plugins).result);

  test('running twice gives byte-identical canonical results', () => {
    const inputs = baseInputs();
    assert.equal(canon(computeEpoch(inputs, plugins).result), reference);
    assert.equal(canon(computeEpoch(inputs, plugins).result), reference);
  });

  test('a JSON round-tripped copy of the inputs gives the same bytes', () => {
    const copy = JSON.parse(JSON.stringify(baseInputs())) as EpochInputs;
    assert.equal(canon(computeEpoch(copy, plugins).result), reference);
  });

  test('computeEpoch does not mutate its inputs', () => {
    const inputs = baseInputs();
    const before = canonicalJson(inputs);
    computeEpoch(inputs, plugins);
    assert.equal(canonicalJson(inputs), before);
  });

  test('the order of reports in the input does not change the result', () => {
    const orders = [[...reports].reverse(), [reports[6]!, reports[3]!, reports[0]!, reports[5]!, reports[2]!, reports[4]!, reports[1]!]];
    for (const order of orders) {
      const inputs = baseInputs();
      net0(inputs).reports = order;
      assert.equal(canon(computeEpoch(inputs, plugins).result), reference);
    }
  });
  test('the order of refused reports does not change the result either', () => {
    const forged = (i: number) => {
      const f = structuredClone(reports[i]!);
      f.report.body = { nonce: `0x${String(i).repeat(64).slice(0, 64)}` };
      f.digest = reportDigest(f.report);
      return f;
    };
    const bad = [forged(0), forged(3)];
    const one = baseInputs();
    net0(one).reports = [...reports, ...bad];
    const two = baseInputs();
    net0(two).reports = [...bad.reverse(), ...[...reports].reverse()];
    assert.equal(canon(computeEpoch(one, plugins).result), canon(computeEpoch(two, plugins).result));
  });
});

describe('report checks (checkSignatures, the default)', () => {
  test('a body altered after signing (digest recomputed) is a bad signature, and the result changes', () => {
    const inputs = baseInputs();
    // B's signed answer to its first challenge, rewritten to claim the challenge B answered late.
    const forged = structuredClone(reports[3]!);
    forged.report.body = { nonce: chB[2]!.nonce };
    forged.receivedAt = chB[2]!.issuedAt + 100;
    forged.digest = reportDigest(forged.report);
    net0(inputs).reports.push(forged);
    const { result } = computeEpoch(inputs, plugins);
    const bad = result.networks[0]!.rejections.filter((r) => r.reason === 'bad-signature' && r.digest === forged.digest);
    assert.equal(bad.length, 1);
    assert.equal(bad[0]!.device, B.id);
    assert.match(bad[0]!.detail, /does not verify against the device's registered key/);
    assert.equal(result.networks[0]!.scores[1]!.score, '666666', 'the forged answer does not count');
    assert.notEqual(canon(result), canon(computeEpoch(baseInputs(), plugins).result));

    // Trusting ingest's check instead, the forgery would count: the option really switches the check.
    const trusting = computeEpoch(inputs, plugins, { checkSignatures: false }).result;
    assert.equal(trusting.networks[0]!.scores[1]!.score, '1000000');
    assert.notEqual(canon(trusting), canon(result));
  });

  test('changing a signed field of the body gives bad-signature and a different result', () => {
    const inputs = baseInputs();
    const altered = structuredClone(reports[0]!);
    altered.report.body = { nonce: chA[0]!.nonce, extra: 'x' };
    altered.digest = reportDigest(altered.report);
    net0(inputs).reports[0] = altered;
    const { result } = computeEpoch(inputs, plugins);
    assert.ok(result.networks[0]!.rejections.some((r) => r.reason === 'bad-signature' && r.digest === altered.digest));
    assert.equal(result.networks[0]!.scores[0]!.score, '666666');
    assert.notEqual(canon(result), canon(computeEpoch(baseInputs(), plugins).result));
  });

  test('a digest that is not the report’s digest is digest-mismatch', () => {
    const inputs = baseInputs();
    const wrong = { ...reports[0]!, digest: `0x${'00'.repeat(32)}` as Hex };
    net0(inputs).reports[0] = wrong;
    const { result } = computeEpoch(inputs, plugins);
    const rej = result.networks[0]!.rejections.filter((r) => r.reason === 'digest-mismatch');
    assert.equal(rej.length, 1);
    assert.equal(rej[0]!.digest, wrong.digest);
    assert.ok(rej[0]!.detail.includes(reports[0]!.digest));
    assert.equal(result.networks[0]!.scores[0]!.score, '666666');
  });

  test('a report from a device missing in the snapshot is unregistered-device', () => {
    const inputs = baseInputs();
    const stranger = answer(D, chA[0]!);
    net0(inputs).reports.push(stranger);
    const { result } = computeEpoch(inputs, plugins);
    const rej = result.networks[0]!.rejections.filter((r) => r.reason === 'unregistered-device');
    assert.deepEqual(
      rej.map((r) => [r.device, r.digest]),
      [[D.id, stranger.digest]],
    );
    assert.ok(!result.networks[0]!.scores.some((s) => s.device === D.id));
    // Everything else is as before but for the added rejection.
    const ref = computeEpoch(baseInputs(), plugins).result;
    assert.deepEqual({ ...result, networks: [] }, { ...ref, networks: [] });
  });

  test('checkSignatures: false passes reports straight to the verifier', () => {
    const inputs = baseInputs();
    net0(inputs).reports[0] = { ...reports[0]!, digest: `0x${'00'.repeat(32)}` as Hex };
    const { result } = computeEpoch(inputs, plugins, { checkSignatures: false });
    assert.ok(!result.networks[0]!.rejections.some((r) => r.reason === 'digest-mismatch'));
    assert.equal(result.networks[0]!.scores[0]!.score, '1000000');
  });
});

describe('input errors and edge cases', () => {
  const isEpochInputError = (e: unknown) => e instanceof EpochInputError && e.name === 'EpochInputError';

  test('an unknown network kind is an EpochInputError', () => {
    const inputs = baseInputs();
    net0(inputs).kind = 'storage';
    assert.throws(
      () => computeEpoch(inputs, plugins),
      (e) => isEpochInputError(e) && /no plug-in for network "storage"/.test((e as Error).message),
    );
    assert.throws(() => computeEpoch(baseInputs(), {}), isEpochInputError);
  });

  test('malformed oracle inputs are an EpochInputError naming the network', () => {
    const inputs = baseInputs();
    net0(inputs).oracleInputs = [{ ...(net0(inputs).oracleInputs[0] as object), nonce: 'bad' }];
    assert.throws(
      () => computeEpoch(inputs, plugins),
      (e) =>
        isEpochInputError(e) && /network uptime: oracle input 0: nonce: must be 0x and 64 lowercase hex digits/.test((e as Error).message),
    );
  });

  test('bad parameters are an EpochInputError', () => {
    for (const parameters of [
      { ...DEFAULT_PARAMETERS, challengesPerEpoch: 0 },
      { ...DEFAULT_PARAMETERS, usageShareBps: 10_001 },
      { ...DEFAULT_PARAMETERS, extra: 1 },
      {},
      null,
      'defaults',
    ]) {
      const inputs = baseInputs();
      net0(inputs).parameters = parameters;
      assert.throws(
        () => computeEpoch(inputs, plugins),
        (e) => isEpochInputError(e) && /network uptime: bad parameters/.test((e as Error).message),
        JSON.stringify(parameters),
      );
    }
  });

  test('parameters change the result (usageShareBps 0: everything by proof)', () => {
    const inputs = baseInputs();
    net0(inputs).parameters = { ...DEFAULT_PARAMETERS, usageShareBps: 0 };
    const n = computeEpoch(inputs, plugins).result.networks[0]!;
    assert.deepEqual([n.usagePool, n.proofPool], ['0', '1000000']);
  });

  test('no cumulative leaves (nothing earned, no prior) → root null and no tree', () => {
    const inputs = baseInputs();
    net0(inputs).reports = [];
    net0(inputs).usage = [];
    inputs.prior = { epoch: null, root: null, total: '0', cumulative: [] };
    const { result, tree } = computeEpoch(inputs, plugins);
    assert.equal(result.root, null);
    assert.equal(tree, null);
    assert.deepEqual(result.cumulative, []);
    assert.equal(result.total, '0');
    assert.equal(result.undistributed, '1000000');
    assert.equal(result.networks[0]!.rejections.filter((r) => r.reason === 'unanswered').length, 9);
  });

  test('nothing earned this epoch but a prior: the root is the prior leaves’ root', () => {
    const inputs = baseInputs();
    net0(inputs).reports = [];
    net0(inputs).usage = [];
    const { result } = computeEpoch(inputs, plugins);
    assert.deepEqual(result.cumulative, [{ account: lc(O3), amount: '100' }]);
    assert.equal(result.root, RewardTree.of([{ account: lc(O3), amount: 100n }]).root);
  });

  test('no networks at all: an empty result', () => {
    const inputs = baseInputs();
    inputs.networks = [];
    inputs.prior = { epoch: null, root: null, total: '0', cumulative: [] };
    const { result } = computeEpoch(inputs, plugins);
    assert.deepEqual(result, {
      networks: [],
      devices: [],
      owners: [],
      cumulative: [],
      total: '0',
      paid: '0',
      undistributed: '0',
      root: null,
    });
  });
});

/** Every leaf path of a JSON value, as key lists. */
function leafPaths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [path];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return entries.flatMap(([k, v]) => leafPaths(v, [...path, k]));
}

function mutateAt(root: unknown, path: (string | number)[]): void {
  let node = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  const v = node[last];
  node[last] = typeof v === 'number' ? v + 1 : typeof v === 'string' ? `${v}0` : v === null ? '0x00' : 'changed';
}

describe('encodeArtifact', () => {
  const inputs = baseInputs();
  const { result } = computeEpoch(inputs, plugins);
  const artifact = { inputs, result };
  const { bytes, hash } = encodeArtifact(artifact);

  test('bytes are the canonical bytes and hash is their sha256 (what sha256sum prints)', () => {
    assert.deepEqual(bytes, canonicalBytes(artifact));
    assert.equal(hash, sha256Hex(bytes));
    assert.equal(hash, `0x${createHash('sha256').update(bytes).digest('hex')}`);
    assert.equal(encodeArtifact(JSON.parse(JSON.stringify(artifact))).hash, hash);
  });

  test('the hash changes when any result field changes', () => {
    const paths = leafPaths(result);
    assert.ok(paths.length > 50, `only ${paths.length} leaves`);
    for (const path of paths) {
      const changed = structuredClone(artifact);
      mutateAt(changed.result, path);
      assert.notEqual(encodeArtifact(changed).hash, hash, `result.${path.join('.')}`);
    }
  });

  test('the hash changes when an input changes', () => {
    const changed = structuredClone(artifact);
    changed.inputs.networks[0]!.reports[0]!.receivedAt += 1;
    assert.notEqual(encodeArtifact(changed).hash, hash);
  });
});

describe('diffResults', () => {
  const { result } = computeEpoch(baseInputs(), plugins);

  test('equal results have no differences', () => {
    assert.deepEqual(diffResults(result, structuredClone(result)), []);
  });

  test('names the path of a changed field with both values', () => {
    const changed = structuredClone(result);
    changed.networks[0]!.scores[1]!.score = '1';
    changed.total = '5';
    assert.deepEqual(diffResults(result, changed), [
      'result.networks[0].scores[1].score: artifact says "666666", recomputed "1"',
      'result.total: artifact says "1000099", recomputed "5"',
    ]);
  });

  test('handles keys missing on either side and arrays of different lengths', () => {
    const missing = structuredClone(result) as Partial<EpochResult>;
    delete missing.root;
    assert.deepEqual(diffResults(result, missing), [`result.root: artifact says "${result.root}", recomputed (missing)`]);
    assert.deepEqual(diffResults(missing, result), [`result.root: artifact says (missing), recomputed "${result.root}"`]);

    const shorter = structuredClone(result);
    shorter.cumulative.pop();
    const last = result.cumulative[2]!;
    assert.deepEqual(diffResults(result, shorter), [`result.cumulative[2]: artifact says ${canonicalJson(last)}, recomputed (missing)`]);

    const nulled = structuredClone(result);
    nulled.root = null;
    assert.deepEqual(diffResults(result, nulled), [`result.root: artifact says "${result.root}", recomputed null`]);
  });

  test('stops at the limit', () => {
    const changed = structuredClone(result);
    for (const s of changed.networks[0]!.rejections) s.detail = 'x';
    for (const d of changed.devices) d.total = '0';
    const all = diffResults(result, changed, 'result', [], 100);
    assert.equal(all.length, result.networks[0]!.rejections.length + result.devices.length);
    assert.equal(diffResults(result, changed, 'result', [], 3).length, 3);
  });
});
