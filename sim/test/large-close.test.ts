// An epoch of 300,000 devices closed and verified end to end through the closer's own code path:
// a real anvil and deployment, the in-process oracle, and 300,000 devices in its database (with
// real P-256 keys, 900,000 challenges and 450,000 signed answers) beside the testnet's two live
// ones. As on the devnet, the oracle keeps PGlite and the artifacts in files in a data directory
// (a temporary one, removed afterwards). The closer reads them with its cursors, computes while a second thread streams the
// artifact to disk, has the quorum sign, posts the root; then `epoch verify` downloads the
// artifact from the API as a stream, re-checks every signature, recomputes and compares it with
// the chain.
//
// Outside the default suite (it takes a few minutes on 2 cores):
//
//   npm run test:large                                   # GROUNDWORK_LARGE=1, 300,000 devices
//   GROUNDWORK_LARGE=1 GROUNDWORK_LARGE_DEVICES=500000 node --import tsx --test sim/test/large-close.test.ts
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { insertReportsSql } from '@groundwork/oracle';
import {
  deviceIdHex,
  deviceIdOf,
  devicePublicKey,
  encodeReport,
  generateDeviceKey,
  reportDigest,
  SCORE_SCALE,
  seededUnit,
  signReport,
} from '@groundwork/protocol';
import { startTestnet } from '../src/index.ts';

const LARGE = process.env.GROUNDWORK_LARGE === '1';
const DEVICES = Number(process.env.GROUNDWORK_LARGE_DEVICES ?? 300_000);
const BATCH = 10_000;
const CHALLENGES = 3;

test(`an epoch of ${DEVICES.toLocaleString('en-US')} devices closes through the closer and verifies`, {
  skip: LARGE ? false : 'set GROUNDWORK_LARGE=1 to run it (a few minutes): npm run test:large',
  timeout: 30 * 60_000,
}, async () => {
  assert.ok(Number.isSafeInteger(DEVICES) && DEVICES > 0, 'GROUNDWORK_LARGE_DEVICES must be a positive whole number');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gw-large-'));
  const net = await startTestnet({ devices: 2, epochSeconds: 10, dataDir });
  try {
    const oracle = net.oracle!;
    // The closer waits while the epoch is filled in; the live devices go on reporting.
    await oracle.closer.stop();
    const epoch = Math.max(((await oracle.epochs.latest()) ?? oracle.closer.firstEpoch - 1) + 1, net.clock.epochAtMs(Date.now()));
    const startMs = net.clock.start(epoch) * 1000;
    const endMs = net.clock.end(epoch) * 1000;
    const { chainId, addresses } = net.deployment;
    const random = seededUnit(DEVICES);
    const log = (line: string) => console.log(`# ${line}`);
    const began = performance.now();
    let expectedScoreSum = 0;

    // Each device: a key, an owner (two devices each), three challenges, one or two answers.
    for (let from = 0; from < DEVICES; from += BATCH) {
      const n = Math.min(BATCH, DEVICES - from);
      const d = { device: [] as string[], kx: [] as string[], ky: [] as string[], owner: [] as string[] };
      const c = { device: [] as string[], nonce: [] as string[], issued: [] as number[], deadline: [] as number[] };
      const r = { digest: [] as string[], device: [] as string[], json: [] as string[], received: [] as number[] };
      for (let i = 0; i < n; i++) {
        const k = from + i;
        const key = generateDeviceKey();
        const pub = devicePublicKey(key.publicKey);
        const device = deviceIdHex(deviceIdOf(pub));
        d.device.push(device);
        d.kx.push(pub.x.toLowerCase());
        d.ky.push(pub.y.toLowerCase());
        d.owner.push(`0x${(0x10000000 + (k >> 1)).toString(16).padStart(40, 'a')}`);
        const answers = 1 + (k % 2);
        expectedScoreSum += Math.floor((answers * Number(SCORE_SCALE)) / CHALLENGES);
        for (let j = 0; j < CHALLENGES; j++) {
          const nonce = `0x${Math.floor(random() * 2 ** 48)
            .toString(16)
            .padStart(12, '0')}${k.toString(16).padStart(40, '0')}${j.toString(16).padStart(12, '0')}` as const;
          const issued = startMs + 1000 + Math.floor(random() * (endMs - startMs - 6000));
          c.device.push(device);
          c.nonce.push(nonce);
          c.issued.push(issued);
          c.deadline.push(issued + 4000);
          if (j >= answers) continue;
          const report = signReport(
            { v: 1, chainId, registry: addresses.registry, network: 'uptime', type: 'uptime.answer', device, epoch, body: { nonce } },
            key.privateKey,
          );
          r.digest.push(reportDigest(report));
          r.device.push(device);
          r.json.push(encodeReport(report).json);
          r.received.push(issued + 100 + Math.floor(random() * 3000));
        }
      }
      await oracle.db.transaction(async (tx) => {
        await tx.query(
          `insert into devices (device, network, key_x, key_y, owner, stake, registered_at, registered_block)
             select x.device, 'uptime', x.kx, x.ky, x.owner, 1000000000000000000, $5, $6
               from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as x(device, kx, ky, owner)`,
          [d.device, d.kx, d.ky, d.owner, startMs - 60_000, net.deployment.startBlock.toString()],
        );
        await tx.query(
          `insert into challenges (network, device, epoch, nonce, issued_at, deadline)
             select 'uptime', x.device, $5, x.nonce, x.issued, x.deadline
               from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) as x(device, nonce, issued, deadline)`,
          [c.device, c.nonce, c.issued, c.deadline, epoch],
        );
        const count = r.digest.length;
        await tx.query(insertReportsSql(), [
          r.digest,
          Array(count).fill('uptime'),
          r.device,
          Array(count).fill(epoch),
          Array(count).fill('uptime.answer'),
          r.json,
          r.received,
        ]);
      });
      if ((from / BATCH) % 10 === 9) log(`${from + n} devices stored (${Math.round((performance.now() - began) / 1000)} s)`);
    }
    log(
      `${DEVICES} devices, ${DEVICES * CHALLENGES} challenges, ${DEVICES * 1.5} answers stored in ${Math.round((performance.now() - began) / 1000)} s`,
    );

    const closing = performance.now();
    oracle.closer.start();
    await net.waitForEpoch(epoch, 20 * 60_000);
    log(`epoch ${epoch} closed, signed and posted ${Math.round((performance.now() - closing) / 1000)} s after the closer started`);
    // The next epochs have the same 300,000 devices; closing them meanwhile would slow verify down.
    await oracle.closer.stop();
    const row = (await oracle.epochs.row(epoch))!;
    assert.equal(row.state, 'posted');
    const summary = (await oracle.epochs.result(epoch))!.summary;
    const uptime = summary.networks.find((s) => s.kind === 'uptime')!;
    assert.ok(uptime.devices >= DEVICES, `the artifact holds ${uptime.devices} devices`);
    assert.ok(uptime.scoreSum >= expectedScoreSum, `scores sum to ${uptime.scoreSum}, the stored devices' alone to ${expectedScoreSum}`);

    const verifying = performance.now();
    const v = await net.verify(epoch);
    log(`epoch verify: ${v.pass ? 'PASS' : 'FAIL'} in ${Math.round((performance.now() - verifying) / 1000)} s`);
    assert.equal(v.pass, true, JSON.stringify(v.checks.filter((c) => !c.ok)));
    assert.equal(v.artifactHash, row.artifact_hash);
    log(v.checks.find((c) => c.name.startsWith('artifact parses'))!.detail);
  } finally {
    await net.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
