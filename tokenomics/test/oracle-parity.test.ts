// One shared code path: the simulator's per-epoch reward step (rewards.ts epochRewards) fed the
// inputs of a real devnet epoch (the oracle's artifact: budget, scores, credits spent, owners, the
// prior cumulative amounts) pays every device and owner exactly what the oracle paid, in both
// pools: credits are spent on two devices through a settled escrow job each epoch.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  buyCredits,
  chainSession,
  CreditEscrowAbi,
  devnetAccounts,
  escrowJobId,
  networkId,
  sendContract,
  signSettlement,
} from '@groundwork/contracts';
import { artifactSchema } from '@groundwork/protocol';
import { startTestnet, type Testnet } from '@groundwork/sim';
import { epochRewards } from '../src/index.ts';

const hexBytes = (h: string) => Buffer.from(h.slice(2), 'hex');

describe('the simulator pays what the oracle pays', () => {
  let net: Testnet;
  before(async () => {
    net = await startTestnet({ devices: 4, epochSeconds: 6 });
  });
  after(async () => {
    await net?.stop();
  });

  /**
   * Consumers' credits spent on two devices, as a settled escrow job does (the usage half of the
   * split): a job opened by the deployer and settled by two of the testnet's oracle keys.
   */
  async function spendOnDevices(nonce: bigint): Promise<void> {
    const session = chainSession(net.rpcUrl, net.deployment, devnetAccounts(0).privateKey);
    const escrow = net.deployment.addresses.escrow!;
    await buyCredits(session, 1_000n);
    const network = networkId('uptime');
    const jobId = escrowJobId(session.account.address, network, nonce);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    await sendContract(session, escrow, CreditEscrowAbi, 'open', [network, jobId, 1_000n, deadline]);
    const message = {
      jobId,
      consumer: session.account.address,
      network,
      seq: 1n,
      deviceIds: [BigInt(net.providers[0]!.device), BigInt(net.providers[1]!.device)],
      amounts: [300n, 500n],
      isFinal: true,
    };
    const signers = [1, 2].map((i) => privateKeyToAccount(devnetAccounts(i).privateKey));
    const signatures = await signSettlement(signers, net.deployment.chainId, escrow, message);
    await sendContract(session, escrow, CreditEscrowAbi, 'settle', [jobId, 1n, message.deviceIds, message.amounts, true, signatures]);
  }

  /** The first closed epoch with prior amounts to merge and credits spent (a loaded machine may miss one). */
  async function epochWithPriorAndUsage() {
    for (let epoch = net.firstFullEpoch + 1; epoch <= net.firstFullEpoch + 8; epoch++) {
      await spendOnDevices(BigInt(epoch));
      await net.waitForEpoch(epoch, 90_000);
      const res = await fetch(`${net.oracle!.url}/v1/epochs/${epoch}/artifact`);
      assert.equal(res.status, 200);
      const a = artifactSchema.parse(JSON.parse(await res.text()));
      const usage = a.inputs.networks[0]?.usage.length ?? 0;
      if (usage > 0 && a.inputs.prior.cumulative.length > 0 && BigInt(a.result.total) > BigInt(a.inputs.prior.total)) return a;
    }
    throw new Error('no epoch with a prior, credits spent and new rewards in eight');
  }

  test('a devnet epoch’s artifact, recomputed by the simulator’s reward step', async () => {
    const a = await epochWithPriorAndUsage();
    assert.equal(a.inputs.networks.length, 1, 'one network, as the simulator runs');
    const inputs = a.inputs.networks[0]!;
    const result = a.result.networks[0]!;
    assert.ok(BigInt(inputs.budget) > 0n && result.scores.length === 4);
    const owners = [...new Set(a.result.devices.map((d) => d.owner))];
    const ownerOfDevice = new Map(a.result.devices.map((d) => [d.device, d.owner]));
    const devices = result.scores.map((s) => s.device);
    const usage = inputs.usage
      .map((u) => ({ index: devices.indexOf(u.device), credits: BigInt(u.credits) }))
      .sort((x, y) => x.index - y.index);
    const r = epochRewards({
      kind: inputs.kind,
      budget: BigInt(inputs.budget),
      usageShareBps: (inputs.parameters as { usageShareBps: number }).usageShareBps,
      owners: Buffer.concat(owners.map(hexBytes)),
      ownerOf: Uint32Array.from(devices.map((d) => owners.indexOf(ownerOfDevice.get(d)!))),
      scores: Uint32Array.from(result.scores.map((s) => Number(s.score))),
      usage: { index: Uint32Array.from(usage.map((u) => u.index)), credits: usage.map((u) => u.credits) },
      prior: {
        accounts: Buffer.concat(a.inputs.prior.cumulative.map((c) => hexBytes(c.account))),
        amounts: a.inputs.prior.cumulative.map((c) => BigInt(c.amount)),
      },
    });
    const net0 = r.networks[0]!;
    assert.deepEqual(
      devices.map((d, i) => [d, net0.proof[i]!.toString()]),
      devices.map((d) => [d, a.result.devices.find((x) => x.device === d)!.proof]),
      'each device’s proof reward',
    );
    assert.ok(BigInt(result.usagePool) > 0n && usage.length === 2, 'the usage half is in play');
    assert.deepEqual(
      usage.map((u, k) => [devices[u.index], net0.usage[k]!.toString()]),
      usage.map((u) => [devices[u.index], a.result.devices.find((x) => x.device === devices[u.index])!.usage]),
      'each device’s usage reward',
    );
    assert.equal(net0.usagePool.toString(), result.usagePool);
    assert.equal(net0.paid.toString(), result.paid);
    assert.equal(r.total.toString(), a.result.total);
    const cumulative = Array.from({ length: r.cumulative.amounts.length }, (_, i) => ({
      account: `0x${Buffer.from(r.cumulative.accounts.subarray(20 * i, 20 * i + 20)).toString('hex')}` as Hex,
      amount: r.cumulative.amounts[i]!.toString(),
    }));
    assert.deepEqual(cumulative, a.result.cumulative, 'the cumulative leaves, in the tree’s order');
  });
});
