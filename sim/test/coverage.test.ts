// The coverage network end to end on a harness network: hotspots in the simulated city register
// with their asserted cells (paying the location fee), their agents beacon with the oracle's
// entropy and witness each other through the world's radio, and the epochs pay them; a spoofer
// asserting a place 150 km away earns nothing, the artifact says why, and its stake is slashed on
// the evidence. A consumer routes a sensor to an allowance: the frames the hotspots carry are
// charged, refused once the allowance is spent, and burned to the carrying hotspots as usage.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { latLngToCell } from 'h3-js';
import { assertLocation } from '@groundwork/agent';
import { CreditEscrowAbi, devnetAccounts, ServiceCreditsAbi } from '@groundwork/contracts';
import { CoverageClient, coverageWorker, DEFAULT_COVERAGE_PARAMETERS, Sensor } from '@groundwork/network-coverage';
import type { Hex } from 'viem';
import { CoverageWorld, devnetFaucet, startTestnet, type Testnet, worldRadio } from '../src/index.ts';

const HONEST = 6;
const CONSUMER = devnetAccounts(5);

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => null);
    if (v) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

type Artifact = {
  inputs: {
    networks: {
      kind: string;
      budget: string;
      usage: { device: string; credits: string }[];
      oracleInputs: { kind: string; credits?: string; tokens?: string }[];
    }[];
  };
  result: {
    networks: {
      kind: string;
      usagePool: string;
      proofPool: string;
      scores: { device: string; score: string; detail: Record<string, number> }[];
      rejections: { device: string | null; reason: string; detail: string }[];
      findings?: { device: string; kind: string }[];
    }[];
  };
};

describe('coverage network: proof of coverage, spoofers, packets', () => {
  const world = new CoverageWorld({ seed: 5, radiusKm: 4 });
  const places = Array.from({ length: HONEST }, () => world.randomPlace());
  const spooferAt = world.offset(world.centre, 0.5, 0.3);
  const spooferClaims = world.offset(world.centre, 150, 0);
  let net: Testnet;
  const radios: ReturnType<typeof worldRadio>[] = [];
  /** The packet router's log lines, for the failure messages. */
  const routerLog: string[] = [];

  before(async () => {
    for (let i = 0; i < HONEST; i++) world.place(`p${i}`, places[i]!);
    world.place(`p${HONEST}`, spooferAt);
    net = await startTestnet({
      devices: HONEST + 1,
      epochSeconds: 8,
      networks: [{ kind: 'coverage', weight: 1n }],
      network: () => 'coverage',
      location: (i) => {
        const [lat, lng] = i < HONEST ? places[i]! : spooferClaims;
        return latLngToCell(lat, lng, 12);
      },
      worker: (i) => {
        const radio = worldRadio(world, `p${i}`);
        radios.push(radio);
        return coverageWorker(radio);
      },
      slashWindow: 1,
      log: (line) => {
        if (/coverage: uplink|coverage: allowance|settling packets/.test(line)) routerLog.push(line);
      },
    });
  });
  after(async () => {
    world.stop();
    await net?.stop();
  });

  const spoofer = () => net.providers[HONEST]!.device;
  let paidEpoch = -1;
  let moved: { device: Hex; to: string; epoch: number; fee: bigint; before: bigint; spent: bigint } | null = null;
  const artifactOf = async (epoch: number) => (await (await fetch(`${net.oracle!.url}/v1/epochs/${epoch}/artifact`)).json()) as Artifact;

  test('honest hotspots are paid for beacons and witnesses; the spoofer earns nothing and the artifact says why', async () => {
    // The first full epoch builds HIP-106's reciprocity history; the next one pays.
    const paying = net.firstFullEpoch + 1;
    await net.waitForEpoch(paying);
    const artifact = await artifactOf(paying);
    const cov = artifact.result.networks.find((n) => n.kind === 'coverage')!;
    const score = (device: string) => BigInt(cov.scores.find((s) => s.device === device)?.score ?? '0');
    const honest = net.providers.slice(0, HONEST).map((p) => p.device);
    const paid = honest.filter((d) => score(d) > 0n);
    assert.ok(paid.length >= HONEST - 1, `honest hotspots paid: ${paid.length} of ${HONEST}`);
    assert.equal(score(spoofer()), 0n, 'the spoofer scores nothing');
    const reasons = new Set(cov.rejections.filter((r) => r.device === spoofer()).map((r) => r.reason));
    assert.ok(reasons.has('too-far'), `the spoofer's witnesses are refused as too far: ${[...reasons]}`);
    assert.ok(reasons.has('no-valid-witnesses'), `its beacons earn nothing without a valid witness (HIP-106): ${[...reasons]}`);
    // Honest hotspots' witnesses of the spoofer's beacons are refused too, and only those.
    // The map's hex: its hotspots with their transmit scale and what the epoch paid them (from its artifact).
    const hex = latLngToCell(places[0]![0], places[0]![1], 7);
    type Hex7 = { epoch: number; hotspots: { device: string; txScale: number | null; reward: string | null }[]; witnesses: unknown[] };
    const map = await until('a paid hotspot on the map', async () => {
      const m = (await (await fetch(`${net.oracle!.url}/v1/coverage/hex/${hex}`)).json()) as Hex7;
      return m.hotspots.some((h) => BigInt(h.reward ?? '0') > 0n) ? m : null;
    });
    assert.ok(map.hotspots.some((h) => h.device === net.providers[0]!.device && h.txScale !== null));
    assert.ok(map.witnesses.length > 0, 'with the witnesses heard into or out of it');
    const judged = await artifactOf(map.epoch);
    const paidThere = judged.result.networks.find((n) => n.kind === 'coverage')!.scores;
    for (const h of map.hotspots)
      if (BigInt(h.reward ?? '0') > 0n)
        assert.ok(BigInt(paidThere.find((x) => x.device === h.device)?.score ?? '0') > 0n, 'paid hotspots scored');
    paidEpoch = paying;
  });

  test('the spoofer is slashed on the evidence of its impossible witnesses', async () => {
    const device = spoofer();
    const slashes = await until('the spoofer’s slash', async () => {
      const events = await net.slashes(device);
      return events.length ? events : null;
    });
    assert.equal(slashes[0]!.args.requested, BigInt(DEFAULT_COVERAGE_PARAMETERS.slashAmount));
    for (const p of net.providers.slice(0, HONEST)) {
      assert.equal((await net.slashes(p.device)).length, 0, 'no honest hotspot is slashed');
    }
    // With its slash order on chain, the paying epoch verifies from its artifact, finding and all.
    const verified = await until('the paying epoch’s slash order proposed', async () => {
      const v = await net.verify(paidEpoch);
      return v.pass ? v : null;
    });
    assert.ok(verified.checks.some((c) => /findings\[0\] \(impossible-witnesses/.test(c.name) && c.ok));
  });

  test('a sensor’s frames are charged per 24 bytes, refused once the allowance is spent, and burned to the hotspots that carried them', async () => {
    // A hotspot moves meanwhile (checked by the next test, once the epoch it moved in has closed).
    {
      const p = net.providers[0]!;
      const to = latLngToCell(...world.offset(places[0]!, 0.3, 0), 12);
      const spentOn = async () =>
        (await net.client.readContract({
          address: net.deployment.addresses.credits,
          abi: ServiceCreditsAbi,
          functionName: 'spentOnDevice',
          args: [BigInt(p.device)],
        })) as bigint;
      const before = await spentOn();
      const r = await assertLocation(p.session, { device: p.device, location: BigInt(`0x${to}`) });
      moved = { device: p.device, to, epoch: net.clock.epochAtMs(Date.now()), fee: r.fee, before, spent: await spentOn() };
    }
    await devnetFaucet({ rpcUrl: net.rpcUrl, deployment: net.deployment, to: CONSUMER.address });
    const consumer = new CoverageClient({
      oracleUrl: net.oracle!.url,
      rpcUrl: net.rpcUrl,
      deployment: net.deployment,
      privateKey: CONSUMER.privateKey,
    });
    // 10 credits: eight 30-byte frames cost 2 each, so the fifth and later are refused.
    const allowance = await consumer.openAllowance(10n, { buyCredits: true });
    // Bad input to the router and the map: clear refusals, nothing stored.
    const post = (path: string, body: string) =>
      fetch(`${net.oracle!.url}/v1/coverage/${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const refusal = async (res: Response) => ({ status: res.status, body: (await res.json()) as { error: string; detail: string } });
    assert.deepEqual((await refusal(await post('sensors', '{nope'))).status, 400);
    const unsigned = await refusal(
      await post(
        'sensors',
        JSON.stringify({ sensor: 'ab'.repeat(8), key: '00'.repeat(16), allowance: allowance.id, signature: `0x${'11'.repeat(65)}` }),
      ),
    );
    assert.equal(unsigned.status, 400, JSON.stringify(unsigned));
    const badCell = await refusal(await fetch(`${net.oracle!.url}/v1/coverage/hex/${'f'.repeat(15)}`));
    assert.equal(badCell.status, 400);
    assert.equal(badCell.body.error, 'bad-cell');
    const sensor = Sensor.random();
    await consumer.registerSensor(sensor, allowance.id);
    world.place('sensor', world.offset(places[0]!, 0.2, 0.2), { txPowerDbm: 20, gainDbi: 0 });
    for (let k = 0; k < 8; k++) {
      world.deliver('sensor', JSON.stringify(sensor.frame(Buffer.alloc(30, k))), 903_900_000);
      await new Promise((r) => setTimeout(r, 150));
    }
    const refusedFrames = () =>
      new Set(
        routerLog.flatMap((l) => {
          const m = new RegExp(`uplink ${sensor.id}:(\\d+) refused: allowance-spent`).exec(l);
          return m ? [Number(m[1])] : [];
        }),
      );
    // Every frame accounted for: delivered, or refused because the allowance is spent.
    const final = await until(
      'every frame delivered or refused',
      async () => {
        const got = await consumer.uplinks(sensor.id);
        return got.length + refusedFrames().size >= 8 ? got : null;
      },
      30_000,
    ).catch(() => consumer.uplinks(sensor.id));
    assert.equal(final.length, 5, `5 frames of 2 credits fit 10 credits\n${routerLog.join('\n')}`);
    for (const u of final) assert.equal(u.credits, '2', '30 bytes cost 2 credits');
    // Which five get through is which arrive first: each frame's copies come in after their own
    // airtime and backhaul (up to 1.5 s), so frames 150 ms apart may overtake each other. The other
    // three are refused because the allowance is spent, every copy of them.
    const taken = new Set(final.map((u) => u.fcnt));
    assert.equal(taken.size, 5);
    const refused = refusedFrames();
    assert.deepEqual(
      [...taken, ...refused].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7],
      `every frame taken or refused, none both:\n${routerLog.join('\n')}`,
    );
    // Burned in a batch once the frames' epoch has ended, to the hotspots that carried them.
    await consumer.closeAllowance(allowance.id);
    const job = await until('the allowance’s final settlement', async () => {
      const j = (await net.client.readContract({
        address: net.deployment.addresses.escrow!,
        abi: CreditEscrowAbi,
        functionName: 'job',
        args: [allowance.id],
      })) as { status: number; burned: bigint; refunded: bigint };
      return j.status === 3 ? j : null;
    });
    assert.equal(job.burned, 10n);
    assert.equal(job.refunded, 0n);
    const carriers = new Set(final.map((u) => u.hotspot as Hex));
    // The burns may land in one epoch or several (a batch per ended epoch, then the final one):
    // every closed epoch's usage together is what was burned, once each.
    const withUsage: Artifact[] = [];
    const usage = await until('every burn in the epochs’ usage', async () => {
      const last = (await net.oracle!.epochs.lastClosed())!;
      const all: { device: string; credits: string }[] = [];
      withUsage.length = 0;
      for (let e = 0; e <= last; e++) {
        const a = await artifactOf(e).catch(() => null);
        const u = a?.inputs?.networks.find((n) => n.kind === 'coverage')?.usage ?? [];
        if (u.length) withUsage.push(a!);
        all.push(...u);
      }
      return all.reduce((sum, u) => sum + BigInt(u.credits), 0n) >= 10n ? all : null;
    });
    // Helium's data-transfer pool: what the burned credits are worth at the epoch's price, not
    // half the budget for a handful of packets; the unused part goes to proof of coverage.
    for (const a of withUsage) {
      const inputs = a.inputs.networks.find((n) => n.kind === 'coverage')!;
      const result = a.result.networks.find((n) => n.kind === 'coverage')!;
      const price = inputs.oracleInputs.find((r) => r.kind === 'credit-price')!;
      const burned = inputs.usage.reduce((sum, u) => sum + BigInt(u.credits), 0n);
      const worth = (burned * BigInt(price.tokens!)) / BigInt(price.credits!);
      assert.ok(worth < BigInt(inputs.budget) / 2n, 'ten credits are worth far less than half the budget');
      assert.equal(BigInt(result.usagePool), worth);
      assert.equal(BigInt(result.proofPool), BigInt(inputs.budget) - worth);
    }
    for (const u of usage)
      assert.ok(carriers.has(u.device as Hex), `usage only for hotspots that carried frames (${u.device.slice(0, 10)})`);
    assert.equal(
      usage.reduce((sum, u) => sum + BigInt(u.credits), 0n),
      10n,
    );
  });

  test('moving a hotspot is a new assert with its fee; the oracle uses the new cell from the next epoch it closes', async () => {
    const { device, to, epoch, fee, before, spent } = moved!;
    assert.equal(fee, 1_000_000n, "Helium's assert fee, 1,000,000 DC");
    assert.equal(spent - before, fee, 'the fee is spent on the device');
    // The epoch the assert landed in is closed after it: its snapshot has the new cell.
    await net.waitForEpoch(epoch);
    const rows = await net.oracle!.db.query<{ input: string }>(
      "select input from oracle_inputs where network = 'coverage' and epoch = $1 and input like '{\"cell\":%'",
      [epoch],
    );
    const row = rows.map((r) => JSON.parse(r.input) as { cell: string; device: string }).find((r) => r.device === device);
    assert.equal(row?.cell, to);
    await assert.rejects(
      assertLocation(net.providers[1]!.session, { device, location: BigInt(`0x${to}`) }),
      /belongs to/,
      "only the device's owner asserts its location",
    );
  });
});
