// End to end through the testnet harness: three rewarded epochs on a real anvil with the real
// oracle and agents; every provider's claimed balance equals the sum of its artifact rewards,
// `epoch verify` passes for each epoch, and a tampered artifact fails it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Hex } from 'viem';
import { RewardDistributorAbi } from '@groundwork/contracts';
import { claimRewards } from '@groundwork/agent';
import { type EpochArtifact, encodeArtifact } from '@groundwork/protocol';
import { startTestnet, type Testnet } from '../src/index.ts';

describe('three epochs end to end', () => {
  let net: Testnet;
  let first: number;
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-e2e-'));

  before(async () => {
    net = await startTestnet({ devices: 3, epochSeconds: 6 });
    // The first epoch that started after the agents were connected, and the two after it.
    first = net.firstFullEpoch;
    await net.waitForEpoch(first + 2, 90_000);
  });
  after(async () => {
    await net?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const artifact = async (epoch: number) => {
    const res = await fetch(`${net.oracle!.url}/v1/epochs/${epoch}/artifact`);
    assert.equal(res.status, 200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    // Streamed from its file, with its length and hash known before the first byte.
    assert.equal(res.headers.get('content-length'), String(bytes.length));
    assert.equal(res.headers.get('x-artifact-hash'), `0x${createHash('sha256').update(bytes).digest('hex')}`);
    return { bytes, hash: res.headers.get('x-artifact-hash') };
  };
  /** Verifies epoch `first + 1` from `content` as a local artifact file; returns the failed checks, one per line. */
  const failedChecks = async (content: string | Uint8Array) => {
    const file = path.join(dir, 'candidate.json');
    writeFileSync(file, content);
    const v = await net.verify(first + 1, file);
    assert.equal(v.pass, false);
    const failed = v.checks
      .filter((c) => !c.ok)
      .map((c) => `${c.name}: ${c.detail}`)
      .join('\n');
    return { v, failed };
  };

  test('every epoch has a posted root and verifies', async () => {
    for (let e = first; e <= first + 2; e++) {
      const v = await net.verify(e);
      assert.equal(v.pass, true, `epoch ${e}: ${JSON.stringify(v.checks.filter((c) => !c.ok))}`);
      assert.ok(v.root, `epoch ${e} has a root`);
      assert.ok(v.checks.some((c) => c.name === 'chain root equals the artifact root' && c.ok));
    }
  });

  test("each provider's claimed balance equals the sum of its artifact rewards", async () => {
    // No root is posted from here on, so the claimable root stops moving once the latest one has
    // left its challenge window: the claims below and the sums are over the same epochs.
    await net.oracle!.closer.stop();
    const root = (functionName: 'claimableRoot' | 'latestRoot') =>
      net.client.readContract({
        address: net.deployment.addresses.distributor,
        abi: RewardDistributorAbi,
        functionName,
        blockTag: 'pending',
      }) as Promise<{
        epoch: bigint;
      }>;
    let lastClaimable = -1;
    for (let i = 0; i < 150 && lastClaimable < 0; i++) {
      const [claimable, latest] = [await root('claimableRoot'), await root('latestRoot')];
      if (claimable.epoch === latest.epoch && Number(claimable.epoch) >= first + 2) lastClaimable = Number(claimable.epoch);
      else await new Promise((res) => setTimeout(res, 200));
    }
    assert.ok(lastClaimable >= first + 2, 'the latest root became claimable');
    const sums = new Map<string, bigint>();
    for (let e = net.oracle!.closer.firstEpoch; e <= lastClaimable; e++) {
      const { bytes } = await artifact(e);
      const a = JSON.parse(Buffer.from(bytes).toString()) as EpochArtifact;
      for (const o of a.result.owners) sums.set(o.account, (sums.get(o.account) ?? 0n) + BigInt(o.amount));
    }
    for (const p of net.providers) {
      const before = await net.tokenBalance(p.owner);
      const claim = await claimRewards(p.session, net.oracle!.url);
      const afterBalance = await net.tokenBalance(p.owner);
      const expected = sums.get(p.owner.toLowerCase()) ?? 0n;
      assert.ok(expected > 0n, `provider ${p.index} earned something`);
      assert.equal(claim?.amount, expected);
      assert.equal(afterBalance - before, expected, `provider ${p.index}: balance grew by its artifact rewards`);
      const claimed = await net.client.readContract({
        address: net.deployment.addresses.distributor,
        abi: RewardDistributorAbi,
        functionName: 'claimed',
        args: [p.owner],
      });
      assert.equal(claimed, expected);
      // A second claim has nothing left to pay.
      assert.equal(await claimRewards(p.session, net.oracle!.url), null);
    }
  });

  test('a tampered artifact fails verification and says what differs', async () => {
    const { bytes, hash } = await artifact(first + 1);
    const a = JSON.parse(Buffer.from(bytes).toString()) as EpochArtifact;
    const victim = a.result.devices[0]!;
    victim.total = (BigInt(victim.total) + 1n).toString();
    const { v, failed } = await failedChecks(JSON.stringify(a));
    assert.match(failed, /recomputed result matches the artifact: .*result\.devices\[0\]\.total/s);
    assert.match(failed, /chain artifact hash equals sha256/);
    assert.notEqual(v.artifactHash, hash as Hex);

    // Changing an input (a report's nonce) breaks its signature, which verify re-checks.
    const b = JSON.parse(Buffer.from(bytes).toString()) as EpochArtifact;
    const report = b.inputs.networks[0]!.reports[0]!;
    (report.report.body as { nonce: string }).nonce = `0x${'11'.repeat(32)}`;
    const { v: w } = await failedChecks(JSON.stringify(b));
    assert.match(w.checks.find((c) => c.name.startsWith('recomputed'))!.detail, /rejections/);
  });

  test('malformed artifacts (cut off, extra field, wrong type, reordered keys or rows) FAIL with what is wrong, never PASS', async () => {
    const { bytes } = await artifact(first + 1);
    const text = Buffer.from(bytes).toString('utf8');
    const verify = async (content: string | Uint8Array) => (await failedChecks(content)).failed;
    for (const cut of [1, Math.floor(bytes.length / 3), bytes.length - 1]) {
      assert.match(await verify(bytes.subarray(0, cut)), /artifact parses and matches the artifact schema: .*cut off/);
    }
    assert.match(
      await verify(text.replace('"devices":[{', '"devices":[{"extra":1,')),
      /artifact parses and matches the artifact schema: inputs\.networks\[0\]\.devices\[0\]: .*extra/,
    );
    const a = JSON.parse(text) as EpochArtifact;
    (a.inputs.networks[0]!.reports[0] as { receivedAt: unknown }).receivedAt = '1700000000000';
    assert.match(await verify(JSON.stringify(a)), /artifact parses and matches the artifact schema: inputs\.networks\[0\]\.reports\[0\]/);
    const swapped = text.replace(/\{"device":("0x[0-9a-f]{64}"),"keyX":("0x[0-9a-f]{64}")/, '{"keyX":$2,"device":$1');
    assert.notEqual(swapped, text);
    const keys = await verify(swapped);
    assert.match(keys, /artifact is canonical: .*inputs\.networks\[0\]\.devices\[0\]/s);
    assert.match(keys, /chain artifact hash equals sha256/);
    const b = JSON.parse(text) as EpochArtifact;
    const devices = b.inputs.networks[0]!.devices;
    [devices[0], devices[1]] = [devices[1]!, devices[0]!];
    assert.match(await verify(encodeArtifact(b).bytes), /chain artifact hash equals sha256/);
  });
});
