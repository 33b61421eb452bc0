// Slashing on evidence end to end, on a real anvil: a test-only plug-in (uptime's verifier plus a
// finding for each device of the owners its parameters name, in one epoch) makes the oracle close
// an epoch with two findings. Both become slash orders signed by the quorum and proposed on chain
// with their evidence hashes after the root; the guardian vetoes one, the other is executed by the
// oracle's keeper once the chain's clock is past the window, and the device's stake in the
// registry drops by the amount, once, through oracle restarts that lost the record of a proposal
// and of an execution. `epoch verify` passes, and fails on a tampered artifact and on an order
// the artifact has no finding for.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestClient, createWalletClient, type Hex, http, keccak256, stringToBytes } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  DeviceRegistryAbi,
  devnetAccounts,
  RewardDistributorAbi,
  SlashOrdersAbi,
  signSlashOrder,
  slashOrderId,
} from '@groundwork/contracts';
import uptimeNetwork, { type ChallengeTable, DEFAULT_PARAMETERS, parametersSchema } from '@groundwork/network-uptime';
import { openPglite } from '@groundwork/oracle';
import {
  addressSchema,
  canonicalJson,
  type EpochArtifact,
  type EpochResult,
  epochSchema,
  evidenceHash,
  type NetworkPlugin,
  type VerifierOutput,
} from '@groundwork/protocol';
import { ORACLE_ACCOUNTS, startTestnet, type Testnet } from '../src/index.ts';

const AMOUNT = 10n ** 18n; // one token of the devnet's 10-token minimum stake
const WINDOW = 1800; // long enough that nothing executes before the test moves the chain’s clock (below the 1 h unstake delay)

const plantedSchema = parametersSchema.extend({ cheaters: addressSchema.array(), fraudEpoch: epochSchema });
type Planted = ReturnType<typeof plantedSchema.parse>;

/** uptime, plus a finding for every device of the `cheaters` owners in epoch `fraudEpoch`. */
const plantedNetwork: NetworkPlugin<Planted, ChallengeTable> = {
  ...(uptimeNetwork as unknown as NetworkPlugin<Planted, ChallengeTable>),
  description: 'uptime with planted fraud (test only)',
  parameters: {
    schema: plantedSchema as never,
    defaults: { ...DEFAULT_PARAMETERS, cheaters: [], fraudEpoch: 0 },
    references: uptimeNetwork.parameters.references,
  },
  verify(input): VerifierOutput {
    const out = uptimeNetwork.verify(input);
    if (input.epoch !== input.parameters.fraudEpoch) return out;
    const cheaters = new Set(input.parameters.cheaters.map((a) => a.toLowerCase()));
    const findings = [];
    for (let row = 0; row < input.devices.length; row++) {
      if (!cheaters.has(input.devices.owner.get(row)!.toLowerCase())) continue;
      const device = input.devices.device.get(row)!;
      const answers: string[] = [];
      for (const r of input.order) if (input.deviceRows[r] === row) answers.push(input.reports.digest.get(r)!);
      findings.push({ device, kind: 'planted-fraud', amount: AMOUNT.toString(), evidence: { device, epoch: input.epoch, answers } });
    }
    return { ...out, findings };
  },
};

type Order = { orderId: Hex; device: Hex; deviceId: string; evidenceHash: Hex; artifactHash: Hex; state: string; error: string | null };

describe('slashing on evidence', { timeout: 300_000 }, () => {
  let net: Testnet;
  let dir: string;
  let epoch: number;
  let artifact: EpochArtifact;
  let artifactFile: string;
  const deployer = devnetAccounts(0);

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gw-slash-'));
    net = await startTestnet({
      devices: 3,
      epochSeconds: 6,
      dataDir: dir,
      slashWindow: WINDOW,
      startOracle: false,
      oracle: { plugins: { uptime: plantedNetwork } },
    });
    // Providers 0 and 1 cheat in one epoch a little ahead (the oracle closes from the epoch it starts in).
    epoch = net.clock.epochAtMs(Date.now()) + 2;
    net.oracleConfig.parameters = {
      uptime: { ...DEFAULT_PARAMETERS, cheaters: [net.providers[0]!.owner, net.providers[1]!.owner], fraudEpoch: epoch },
    };
    await net.startOracle();
    await net.startAgents();
  });
  after(async () => {
    await net?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const device = (i: number) => net.providers[i]!.device;
  const slashOrders = () => net.deployment.addresses.slashOrders!;
  const stake = async (i: number) =>
    (
      (await net.client.readContract({
        address: net.deployment.addresses.registry,
        abi: DeviceRegistryAbi,
        functionName: 'device',
        args: [BigInt(device(i))],
      })) as { stake: bigint }
    ).stake;
  const orders = async (): Promise<Order[]> =>
    ((await (await fetch(`${net.oracle!.url}/v1/slash-orders?epoch=${epoch}`)).json()) as { orders: Order[] }).orders;
  const orderOf = async (i: number) => (await orders()).find((o) => o.device === device(i))!;
  async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const proposedEvents = () =>
    net.client.getContractEvents({
      address: slashOrders(),
      abi: SlashOrdersAbi,
      eventName: 'SlashProposed',
      args: { epoch: BigInt(epoch) },
      fromBlock: 0n,
    });
  /** Stops the oracle, edits its database as a crash between a chain step and its record would leave it, starts it again. */
  async function restartAfter(sql: string, params: unknown[]) {
    await net.oracle!.stop();
    const db = await openPglite(path.join(dir, 'oracle', 'pglite'));
    try {
      await db.query(sql, params);
    } finally {
      await db.close();
    }
    await net.startOracle();
  }
  const deployerWallet = () => createWalletClient({ account: privateKeyToAccount(deployer.privateKey), transport: http(net.rpcUrl) });

  test('the epoch closes with the two findings in its artifact, the cheaters scoring 0', async () => {
    await net.waitForEpoch(epoch, 120_000);
    const res = await fetch(`${net.oracle!.url}/v1/epochs/${epoch}/artifact`);
    const bytes = Buffer.from(await res.arrayBuffer());
    artifact = JSON.parse(bytes.toString('utf8')) as EpochArtifact;
    artifactFile = path.join(dir, 'artifact.json');
    writeFileSync(artifactFile, bytes);
    const n = artifact.result.networks[0]!;
    assert.deepEqual(n.findings?.map((f) => f.device).sort(), [device(0), device(1)].sort());
    for (const f of n.findings!) {
      assert.equal(f.evidenceHash, keccak256(stringToBytes(canonicalJson(f.evidence))));
      assert.equal(f.amount, AMOUNT.toString());
      assert.equal(n.scores.find((s) => s.device === f.device)!.score, '0');
      assert.equal(
        artifact.result.devices.find((d) => d.device === f.device),
        undefined,
        'a cheater earns nothing',
      );
    }
  });

  test('both orders are proposed on chain after the root, with the evidence hash and artifact hash', async () => {
    const row = (await net.oracle!.epochs.row(epoch))!;
    const all = await until('two proposed orders', async () => {
      const o = await orders();
      return o.length === 2 && o.every((x) => x.state === 'proposed') && o;
    });
    const events = await proposedEvents();
    assert.equal(events.length, 2);
    for (const f of artifact.result.networks[0]!.findings!) {
      const id = slashOrderId({
        epoch: BigInt(epoch),
        deviceId: BigInt(f.device),
        amount: AMOUNT,
        evidenceHash: f.evidenceHash,
        artifactHash: row.artifact_hash!,
      });
      const order = all.find((o) => o.orderId === id);
      assert.ok(order, `an order for ${f.device}`);
      assert.equal(order.evidenceHash, f.evidenceHash);
      assert.equal(order.deviceId, BigInt(f.device).toString());
      const ev = events.find((e) => e.args.orderId === id)!.args;
      assert.equal(ev.evidenceHash, f.evidenceHash);
      assert.equal(ev.artifactHash, row.artifact_hash);
      assert.equal(ev.deviceId, BigInt(f.device));
    }
    // The root was posted before the orders were proposed.
    const [root] = await net.client.getContractEvents({
      address: net.deployment.addresses.distributor,
      abi: RewardDistributorAbi,
      eventName: 'RootPosted',
      args: { epoch: BigInt(epoch) },
      fromBlock: 0n,
    });
    assert.ok(root && events.every((e) => e.blockNumber! > root.blockNumber!), 'proposed after the root');
  });

  test('the guardian vetoes one; a restart that lost both proposals’ records proposes neither again', async () => {
    const vetoed = await orderOf(0);
    const wallet = deployerWallet();
    const hash = await wallet.writeContract({
      address: slashOrders(),
      abi: SlashOrdersAbi,
      functionName: 'veto',
      args: [vetoed.orderId],
      chain: null,
    });
    await net.client.waitForTransactionReceipt({ hash });
    // As if the oracle died after sending each propose and before recording it.
    await restartAfter("update slash_orders set state = 'signed', propose_tx = null, executable_at = null where epoch = $1", [epoch]);
    await until(
      'the veto seen and the other order pending',
      async () => (await orderOf(0)).state === 'vetoed' && (await orderOf(1)).state === 'proposed',
    );
    assert.equal((await proposedEvents()).length, 2, 'no order proposed twice');
  });

  test('past the window the keeper executes the other: the stake drops by the amount, once, through a restart', async () => {
    const before = { a: await stake(0), b: await stake(1), c: await stake(2) };
    const test = createTestClient({ mode: 'anvil', transport: http(net.rpcUrl) });
    await test.increaseTime({ seconds: WINDOW + 1 });
    await test.mine({ blocks: 1 });
    const executed = await until('the execution', async () => {
      const o = await orderOf(1);
      return o.state === 'executed' && o;
    });
    assert.equal(await stake(1), before.b - AMOUNT);
    assert.equal(await stake(0), before.a, 'the vetoed order slashed nothing');
    assert.equal(await stake(2), before.c);
    // As if the oracle died after sending execute and before recording it.
    await restartAfter("update slash_orders set state = 'proposed', execute_tx = null where order_id = $1", [executed.orderId]);
    await until('the execution seen again', async () => (await orderOf(1)).state === 'executed');
    await new Promise((r) => setTimeout(r, 1500)); // a keeper pass or more
    const executions = await net.client.getContractEvents({
      address: slashOrders(),
      abi: SlashOrdersAbi,
      eventName: 'SlashExecuted',
      fromBlock: 0n,
    });
    assert.equal(executions.length, 1, 'executed once');
    assert.equal(executions[0]!.args.evidenceHash, executed.evidenceHash);
    const slashed = await net.client.getContractEvents({
      address: net.deployment.addresses.registry,
      abi: DeviceRegistryAbi,
      eventName: 'DeviceSlashed',
      fromBlock: 0n,
    });
    assert.equal(slashed.length, 1);
    assert.equal(slashed[0]!.args.evidenceHash, executed.evidenceHash);
    assert.equal(await stake(1), before.b - AMOUNT, 'slashed once');
    // The follower mirrors the slash; /v1/status has the orders and no failure.
    await until('the mirrored slash', async () => {
      const d = (await (await fetch(`${net.oracle!.url}/v1/devices/${device(1)}`)).json()) as { slashed: string };
      return d.slashed === AMOUNT.toString();
    });
    const status = (await (await fetch(`${net.oracle!.url}/v1/status`)).json()) as {
      closer: { slashing: { orders: Record<string, number>; failing: unknown } };
    };
    assert.equal(status.closer.slashing.orders.executed, 1);
    assert.equal(status.closer.slashing.orders.vetoed, 1);
    assert.equal(status.closer.slashing.failing, null);
  });

  test('epoch verify passes, with each finding’s order checked on chain', async () => {
    const v = await net.verify(epoch);
    assert.equal(v.pass, true, JSON.stringify(v.checks.filter((c) => !c.ok)));
    const names = v.checks.map((c) => c.name);
    assert.ok(names.includes("each finding's evidence hash is keccak256 of its evidence"));
    assert.equal(names.filter((n) => /has its slash order on chain/.test(n)).length, 2);
    assert.ok(names.includes('every slash order of this epoch on chain has a finding in the artifact'));
    // An epoch without findings has nothing on chain either.
    const other = await net.verify(epoch - 1);
    assert.equal(other.pass, true, JSON.stringify(other.checks.filter((c) => !c.ok)));
  });

  test('epoch verify fails on tampered evidence, with or without its hash recomputed', async () => {
    const tamper = (recompute: boolean) => {
      const a = JSON.parse(readFileSync(artifactFile, 'utf8')) as { inputs: unknown; result: EpochResult };
      const f = a.result.networks[0]!.findings![0]!;
      f.evidence = { ...(f.evidence as object), answers: [] };
      if (recompute) f.evidenceHash = evidenceHash(f.evidence);
      const file = path.join(dir, `tampered-${recompute}.json`);
      writeFileSync(file, canonicalJson(a));
      return file;
    };
    const failed = (v: Awaited<ReturnType<Testnet['verify']>>) =>
      v.checks
        .filter((c) => !c.ok)
        .map((c) => `${c.name}: ${c.detail}`)
        .join('\n');
    const kept = await net.verify(epoch, tamper(false));
    assert.equal(kept.pass, false);
    assert.match(failed(kept), /artifact parses and matches the artifact schema: .*findings\.0\.evidenceHash: is not keccak256/);
    const recomputed = await net.verify(epoch, tamper(true));
    assert.equal(recomputed.pass, false);
    const why = failed(recomputed);
    assert.match(why, /recomputed result matches the artifact: result\.networks\[0\]\.findings\[0\]\.evidence/);
    assert.match(why, /has its slash order on chain: no order with evidence hash/);
    assert.match(why, /every slash order of this epoch on chain has a finding in the artifact: order 0x/);
  });

  test('epoch verify fails when the chain has an order for the epoch that the artifact has no finding for', async () => {
    const row = (await net.oracle!.epochs.row(epoch))!;
    const message = {
      epoch: BigInt(epoch),
      deviceId: BigInt(device(2)),
      amount: AMOUNT,
      evidenceHash: keccak256(stringToBytes('no such finding')),
      artifactHash: row.artifact_hash!,
    };
    const signers = ORACLE_ACCOUNTS.slice(0, 2).map((i) => privateKeyToAccount(devnetAccounts(i).privateKey));
    const signatures = await signSlashOrder(signers, net.deployment.chainId, slashOrders(), message);
    const wallet = deployerWallet();
    const hash = await wallet.writeContract({
      address: slashOrders(),
      abi: SlashOrdersAbi,
      functionName: 'propose',
      args: [message.epoch, message.deviceId, message.amount, message.evidenceHash, message.artifactHash, signatures],
      chain: null,
      gas: 400_000n,
    });
    assert.equal((await net.client.waitForTransactionReceipt({ hash })).status, 'success');
    const v = await net.verify(epoch);
    assert.equal(v.pass, false);
    const stray = v.checks.find((c) => c.name === 'every slash order of this epoch on chain has a finding in the artifact')!;
    assert.equal(stray.ok, false);
    assert.match(stray.detail, new RegExp(`order ${slashOrderId(message)} slashes device ${device(2)}.*this artifact has no such finding`));
  });
});
