// `groundwork devnet` (and `npm start`): a whole local network on embedded defaults. Anvil, the
// contracts, the oracle with a 2-of-3 quorum, a fleet of simulated uptime providers, compute
// providers and a rendering consumer (render-consumer.ts) that buys credits, renders the demo
// scene's frames on the compute network and pays for them from escrow, storage providers and a
// storage consumer (storage-consumer.ts) that stores and reads back a file each epoch, coverage
// hotspots in a simulated city with an IoT consumer whose sensors' frames they carry (iot.ts); epochs run, the providers
// claim (the compute providers their usage rewards), every epoch is verified, and a live summary
// is printed. State lives in the data directory, so a restart resumes.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Address, Hex } from 'viem';
import { GroundworkTokenAbi, RewardDistributorAbi, SettablePriceFeedAbi, devnetAccounts } from '@groundwork/contracts';
import { computeWorker } from '@groundwork/network-compute/plugin';
import { coverageWorker } from '@groundwork/network-coverage';
import { latLngToCell } from 'h3-js';
import { CoverageWorld, worldRadio } from './coverage-world.ts';
import { type IotConsumer, startAir, startIotConsumer } from './iot.ts';
import { type StorageWorker, storageWorker } from '@groundwork/network-storage/plugin';
import { devnetFaucet } from './faucet.ts';
import { CONSUMER_ACCOUNT, type RenderConsumer, type RenderJobSummary, startRenderConsumer } from './render-consumer.ts';
import { STORAGE_CONSUMER_ACCOUNT, type StorageConsumer, type StoredFileSummary, startStorageConsumer } from './storage-consumer.ts';
import { chainSession } from '@groundwork/agent';
import { claimRewards, verifyEpoch, type VerifyResult } from '@groundwork/agent';
import { leafAccount } from '@groundwork/oracle';
import { startTestnet, type Behaviour, type Testnet } from './testnet.ts';

export type DevnetOptions = {
  dataDir: string;
  /** Uptime providers (default 20). */
  devices?: number;
  /** Compute providers beside them (default 3; 0 runs uptime alone). */
  compute?: number;
  /** Frames per job of the rendering consumer (default 6; 0: no consumer). Needs compute providers. */
  renderFrames?: number;
  /** Storage providers (default 8, for the consumer's 4-of-8 files; 0: none, and no storage consumer or gateway). */
  storage?: number;
  /** The S3 gateway's port (default 9000; 0 = any free port). */
  gatewayPort?: number;
  /** Coverage hotspots in the simulated city (default 8; 0: none, and no IoT consumer). */
  coverage?: number;
  /** The simulated air's port, where `coverage send` transmits (default 0: any free port). */
  airPort?: number;
  epochSeconds?: number;
  /** Exit after this many epochs have closed (default: run until stopped). */
  epochs?: number;
  /** Anvil's RPC port (0 = any free port). */
  rpcPort?: number;
  /** The oracle's HTTP port (0 = any free port). */
  oraclePort?: number;
  databaseUrl?: string;
  behaviour?: (i: number) => Behaviour;
  /** Where progress lines go (stderr when printing JSON). */
  log?: (line: string) => void;
  /** Called after each epoch's claims and verification. */
  onEpoch?: (summary: DevnetEpochSummary) => void;
  /** Aborts the run (Ctrl-C). */
  signal?: AbortSignal;
};

export type DevnetEpochSummary = {
  epoch: number;
  state: string;
  root: Hex | null;
  total: string;
  paid: string;
  artifactHash: Hex | null;
  devices: number;
  connected: number;
  /** Mean score of the uptime devices (the compute network pays by usage: its scores are 0). */
  meanScore: number;
  /** Paid by usage this epoch (the compute network's usage pool: the credits its consumers burned). */
  usagePaid: string;
  claimedThisEpoch: string;
  supply: string;
  verify: boolean;
};

export type DevnetSummary = {
  chainId: number;
  rpcUrl: string;
  oracleUrl: string;
  addresses: Record<string, Address>;
  epochs: DevnetEpochSummary[];
  /** Cumulative rewards per owner after the last epoch (from its artifact). */
  rewards: Record<string, string>;
  /** What each owner has claimed on chain. */
  claimed: Record<string, string>;
  verify: { epoch: number; pass: boolean; failed: string[] }[];
  secondsToFirstClaim: number | null;
  /** True when the run ended on a stop request (Ctrl-C, SIGTERM) rather than after `epochs`. */
  stopped: boolean;
  /** The compute network: its providers' owners and the rendering consumer's jobs (null when not run). */
  compute: { owners: string[]; framesDir: string | null; jobs: RenderJobSummary[] } | null;
  /** The storage network: its providers' owners, their shard servers and the consumer's files (null when not run). */
  storage: {
    owners: string[];
    shardServers: string[];
    files: StoredFileSummary[];
    /** The S3 gateway, paying from its own account (devnet account 6). */
    gateway: { url: string; accessKey: string; secretKey: string } | null;
  } | null;
  /** The coverage network: its hotspots' owners, the simulated air's URL and the IoT consumer's sensors. */
  coverage: { owners: string[]; air: string | null; sensors: string[]; sent: number; delivered: number; credits: string } | null;
};

/**
 * The devnet's storage price, in 1e-18 credits per byte-second: 5e-6 credits (about 10,000 for the
 * consumer's file, 512 KiB of shards for an hour, as much as a render job escrows). Far above the
 * field's (Storj pays $1.50 per TB-month, field/storage.md) so that one small file's shard-epochs
 * earn whole credits.
 */
export const DEVNET_STORAGE_PRICE = 5n * 10n ** 12n;

/** The run was stopped (Ctrl-C, SIGTERM) before the network was up. */
export class DevnetStoppedError extends Error {
  override name = 'DevnetStoppedError';
}

export async function runDevnet(o: DevnetOptions): Promise<DevnetSummary> {
  const started = performance.now();
  const log = o.log ?? (() => {});
  const uptime = o.devices ?? 20;
  const compute = o.compute ?? 3;
  const renderFrames = compute > 0 ? (o.renderFrames ?? 6) : 0;
  // Asks of 0.3, 0.4 and 0.5 credits per million units, repeating: the matcher prefers the cheapest free slot.
  const COMPUTE_PRICES = ['0.3', '0.4', '0.5'];
  const storage = o.storage ?? 8;
  const storageWorkers: StorageWorker[] = [];
  const coverage = o.coverage ?? 8;
  const firstHotspot = uptime + compute + storage;
  const kindOf = (i: number) => (i < uptime ? 'uptime' : i < uptime + compute ? 'compute' : i < firstHotspot ? 'storage' : 'coverage');
  // The city is seeded: a restarted devnet's hotspots are where they were (and asserted).
  const world = new CoverageWorld({ seed: 42, radiusKm: 4 });
  const hotspotPlaces = Array.from({ length: coverage }, () => world.randomPlace());
  for (const [k, at] of hotspotPlaces.entries()) world.place(`hotspot-${k}`, at);
  let net: Testnet;
  try {
    net = await startTestnet({
      devices: uptime + compute + storage + coverage,
      ...(compute + storage + coverage > 0
        ? {
            networks: [
              { kind: 'uptime', weight: 1n },
              ...(compute > 0 ? [{ kind: 'compute', weight: 1n }] : []),
              ...(storage > 0 ? [{ kind: 'storage', weight: 1n, storagePrice: DEVNET_STORAGE_PRICE }] : []),
              ...(coverage > 0 ? [{ kind: 'coverage', weight: 1n }] : []),
            ],
            network: kindOf,
            location: (i: number) => {
              if (kindOf(i) !== 'coverage') return undefined;
              const [lat, lng] = hotspotPlaces[i - firstHotspot]!;
              return latLngToCell(lat, lng, 12);
            },
            worker: (i: number) => {
              if (kindOf(i) === 'coverage') return coverageWorker(worldRadio(world, `hotspot-${i - firstHotspot}`));
              if (kindOf(i) === 'compute')
                return computeWorker({ pricePerMCU: COMPUTE_PRICES[(i - uptime) % COMPUTE_PRICES.length], maxConcurrent: 1 });
              if (kindOf(i) !== 'storage') return undefined;
              // Shards on disk in the data directory, so a restarted devnet still holds what it stored.
              const w = storageWorker({ dir: path.join(o.dataDir, 'storage', `provider-${i}`), capacityBytes: 2 ** 30 });
              storageWorkers.push(w);
              return w;
            },
          }
        : {}),
      epochSeconds: o.epochSeconds ?? 30,
      dataDir: o.dataDir,
      databaseUrl: o.databaseUrl,
      port: o.rpcPort ?? 8545,
      oracle: {
        port: o.oraclePort ?? 8787,
        dataDir: path.join(o.dataDir, 'oracle'),
        // What stops epochs from closing is shown on the console (not only with --verbose), with
        // what to do; a requested stop interrupts the close, which is not worth a line.
        onCloseBlocked: (block) => {
          if (o.signal?.aborted) return;
          log(block ? `epoch ${block.epoch} · blocked at ${block.step}: ${block.error} — ${block.hint}` : 'epochs close again');
        },
      },
      behaviour: o.behaviour,
      log,
    });
  } catch (err) {
    if (o.signal?.aborted)
      throw new DevnetStoppedError('stopped before the devnet had started; what it had set up is kept in the data directory');
    throw err;
  }
  const oracle = net.oracle!;
  log(`chain ${net.rpcUrl} · oracle ${oracle.url} · ${net.providers.length} providers · ${net.clock.duration} s epochs`);

  const summary: DevnetSummary = {
    chainId: net.deployment.chainId,
    rpcUrl: net.rpcUrl,
    oracleUrl: oracle.url,
    addresses: { ...net.deployment.addresses },
    epochs: [],
    rewards: {},
    claimed: {},
    verify: [],
    secondsToFirstClaim: null,
    stopped: false,
    compute:
      compute > 0
        ? {
            owners: net.providers.filter((p) => p.network === 'compute').map((p) => p.owner.toLowerCase()),
            framesDir: renderFrames > 0 ? path.join(o.dataDir, 'frames') : null,
            jobs: [],
          }
        : null,
    storage:
      storage > 0
        ? {
            owners: net.providers.filter((p) => p.network === 'storage').map((p) => p.owner.toLowerCase()),
            shardServers: await shardServers(storageWorkers),
            files: [],
            gateway: null,
          }
        : null,
    coverage:
      coverage > 0
        ? {
            owners: net.providers.filter((p) => p.network === 'coverage').map((p) => p.owner.toLowerCase()),
            air: null,
            sensors: [],
            sent: 0,
            delivered: 0,
            credits: '0',
          }
        : null,
  };
  let consumer: RenderConsumer | null = null;
  let iot: IotConsumer | null = null;
  let air: { url: string; close(): Promise<void> } | null = null;
  let storageConsumer: StorageConsumer | null = null;
  let gateway: Gateway | null = null;
  try {
    if (renderFrames > 0) {
      const account = devnetAccounts(CONSUMER_ACCOUNT).address;
      if ((await net.tokenBalance(account)) < 100n * 10n ** 18n)
        await devnetFaucet({ rpcUrl: net.rpcUrl, deployment: net.deployment, to: account });
      // One job an epoch: enough to see jobs flow and usage paid, not so many that a devnet left
      // running fills its disk with frames.
      consumer = startRenderConsumer({
        net,
        dir: summary.compute!.framesDir!,
        frames: renderFrames,
        intervalMs: net.clock.duration * 1000,
        log,
      });
      summary.compute!.jobs = consumer.jobs;
      log(`rendering consumer ${account} · ${renderFrames} frames a job · frames in ${summary.compute!.framesDir}`);
    }
    if (storage >= 8) {
      const account = devnetAccounts(STORAGE_CONSUMER_ACCOUNT).address;
      if ((await net.tokenBalance(account)) < 100n * 10n ** 18n)
        await devnetFaucet({ rpcUrl: net.rpcUrl, deployment: net.deployment, to: account });
      storageConsumer = startStorageConsumer({ net, intervalMs: net.clock.duration * 1000, log });
      summary.storage!.files = storageConsumer.files;
      log(`storage consumer ${account} · a 256 KiB file an epoch, 4-of-8 · shard servers ${summary.storage!.shardServers.join(' ')}`);
      gateway = await startDevnetGateway(net, path.join(o.dataDir, 'gateway'), o.gatewayPort ?? 9000);
      summary.storage!.gateway = { url: gateway.url, accessKey: gateway.accessKey, secretKey: gateway.secretKey };
      log(`S3 gateway ${gateway.url} · access key ${gateway.accessKey} · secret key ${gateway.secretKey}`);
    }
    if (coverage > 0) {
      air = await startAir(world, o.airPort ?? 0);
      iot = await startIotConsumer({ net, world, intervalMs: Math.max(2000, Math.floor((net.clock.duration * 1000) / 3)), log });
      summary.coverage!.air = air.url;
      summary.coverage!.sensors = iot.sensors;
      log(`coverage ${coverage} hotspots in the simulated city · the air ${air.url} (groundwork coverage send --air ${air.url})`);
    }
    let next = await firstOpenEpoch(net);
    let closed = 0;
    while (!o.signal?.aborted && (o.epochs === undefined || closed < o.epochs)) {
      // A read or write of the price feed cut short on a loaded machine (viem's request timeout)
      // is tried again next epoch; thrown, it would stop the whole devnet.
      await keepPriceFresh(net).catch((err) => log(`refreshing the price feed failed: ${(err as Error).message.split('\n')[0]}`));
      await waitForEpoch(net, next, o.signal);
      if (o.signal?.aborted) break;
      // A step that fails (an RPC or oracle call cut short on a loaded machine) is tried again a
      // few times; one that keeps failing is a failed epoch in the summary, not the end of the devnet.
      let epochSummary: DevnetEpochSummary | null = null;
      for (let attempt = 1; !epochSummary && !o.signal?.aborted; attempt++) {
        try {
          epochSummary = await settleEpoch(net, next, summary, started);
        } catch (err) {
          const why = (err as Error).message.split('\n')[0]!;
          log(`epoch ${next} · settling failed (attempt ${attempt} of 3): ${why}`);
          if (attempt >= 3) {
            summary.verify.push({ epoch: next, pass: false, failed: [`settling the epoch failed: ${why}`] });
            break;
          }
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      if (!epochSummary) {
        next++;
        continue;
      }
      summary.epochs.push(epochSummary);
      o.onEpoch?.(epochSummary);
      log(formatEpoch(epochSummary));
      closed++;
      next++;
    }
    await fillBalances(net, summary);
  } catch (err) {
    // A requested stop (Ctrl-C reaches anvil too, which saves its state and exits) cuts short
    // whatever was in flight; that is the stop working, not an error.
    if (!o.signal?.aborted) throw err;
  } finally {
    await consumer?.stop();
    await iot?.stop();
    await air?.close();
    world.stop();
    if (iot && summary.coverage)
      Object.assign(summary.coverage, { sent: iot.stats.sent, delivered: iot.stats.delivered, credits: iot.stats.credits.toString() });
    await storageConsumer?.stop();
    await gateway?.close();
    await net.stop();
    for (const w of storageWorkers) await w.close();
  }
  summary.stopped = o.signal?.aborted ?? false;
  return summary;
}

/** The storage workers' shard server URLs, once each has sent its hello (it listens first). */
async function shardServers(workers: readonly StorageWorker[]): Promise<string[]> {
  for (let waited = 0; workers.some((w) => w.url() === null) && waited < 30_000; waited += 100)
    await new Promise((r) => setTimeout(r, 100));
  return workers.map((w) => w.url() ?? '(not listening)');
}

type Gateway = { url: string; accessKey: string; secretKey: string; close(): Promise<void> };

/** The account the devnet's S3 gateway pays from (6: the storage consumer is 5). */
export const GATEWAY_ACCOUNT = 6;

/**
 * The devnet's S3 gateway, paying for its objects from its own account; its access key and
 * secret are made once and kept in the data directory, so they stay the same across restarts.
 */
async function startDevnetGateway(net: Testnet, dir: string, port: number): Promise<Gateway> {
  const account = devnetAccounts(GATEWAY_ACCOUNT);
  if ((await net.tokenBalance(account.address)) < 100n * 10n ** 18n)
    await devnetFaucet({ rpcUrl: net.rpcUrl, deployment: net.deployment, to: account.address });
  mkdirSync(dir, { recursive: true });
  const keysFile = path.join(dir, 'access-key.json');
  if (!existsSync(keysFile))
    writeFileSync(
      keysFile,
      JSON.stringify({ accessKey: `GW${randomBytes(9).toString('hex').toUpperCase()}`, secretKey: randomBytes(24).toString('base64url') }),
      { mode: 0o600 },
    );
  const keys = JSON.parse(readFileSync(keysFile, 'utf8')) as { accessKey: string; secretKey: string };
  const { StorageClient } = await import('@groundwork/network-storage/client');
  const { startGateway } = await import('@groundwork/network-storage/gateway');
  const client = new StorageClient({
    oracleUrl: net.oracle!.url,
    rpcUrl: net.rpcUrl,
    deployment: net.deployment,
    privateKey: account.privateKey,
  });
  const gw = await startGateway({ client, dir, port, duration: 86_400, ...keys });
  return { url: gw.url, ...keys, close: () => gw.close() };
}

/**
 * The devnet's price feed is set by hand; credits refuse a price older than maxPriceAge (600 s,
 * Helium's 10 minutes), so the devnet re-posts the same price well before it goes stale.
 */
async function keepPriceFresh(net: Testnet): Promise<void> {
  const feed = net.deployment.addresses.priceFeed;
  const [, answer, , updatedAt] = (await net.client.readContract({
    address: feed,
    abi: SettablePriceFeedAbi,
    functionName: 'latestRoundData',
  })) as readonly [bigint, bigint, bigint, bigint, bigint];
  const maxAge = BigInt(net.deployment.parameters.maxPriceAge);
  if (BigInt(Math.floor(Date.now() / 1000)) - updatedAt < maxAge / 2n) return;
  const s = chainSession(net.rpcUrl, net.deployment, devnetAccounts(0).privateKey);
  const { request } = await s.client.simulateContract({
    account: s.account,
    address: feed,
    abi: SettablePriceFeedAbi,
    functionName: 'setPrice',
    args: [answer],
    blockTag: 'pending',
  });
  await s.client.waitForTransactionReceipt({ hash: await s.wallet.writeContract(request) });
}

async function firstOpenEpoch(net: Testnet): Promise<number> {
  const last = await net.oracle!.epochs.lastClosed();
  return last === null ? net.oracle!.closer.firstEpoch : last + 1;
}

async function waitForEpoch(net: Testnet, epoch: number, signal?: AbortSignal): Promise<void> {
  while (!signal?.aborted) {
    try {
      await net.waitForEpoch(epoch, 1000);
      return;
    } catch {
      // not yet
    }
  }
}

/** Claims for every provider once the epoch's root is claimable, then verifies the epoch. */
async function settleEpoch(net: Testnet, epoch: number, summary: DevnetSummary, started: number): Promise<DevnetEpochSummary> {
  const oracle = net.oracle!;
  const row = (await oracle.epochs.row(epoch))!;
  const { summary: result } = (await oracle.epochs.result(epoch))!;
  let claimed = 0n;
  if (row.state === 'posted') {
    await waitUntilClaimable(net, epoch);
    for (const p of net.providers) {
      const c = await claimRewards(p.session, oracle.url).catch(() => null);
      if (c) {
        claimed += c.amount;
        summary.secondsToFirstClaim ??= Math.round((performance.now() - started) / 100) / 10;
      }
    }
  }
  const v: VerifyResult = await verifyEpoch({
    epoch,
    deployment: net.deployment,
    rpcUrl: net.rpcUrl,
    plugins: net.plugins,
    oracleUrl: oracle.url,
  });
  summary.verify.push({ epoch, pass: v.pass, failed: v.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`) });
  const devices = result.networks.reduce((s, n) => s + n.devices, 0);
  const scored = result.networks.filter((n) => n.kind === 'uptime');
  const scoredDevices = scored.reduce((s, n) => s + n.devices, 0);
  const scoreSum = scored.reduce((s, n) => s + n.scoreSum, 0);
  // Paid by usage: a usage pool is paid in full when the epoch had usage, else it went to the proof pool.
  const usagePaid = result.networks.reduce((s, n) => s + (BigInt(n.usagePool) > 0n ? BigInt(n.usagePool) : 0n), 0n);
  const supply = (await net.client.readContract({
    address: net.deployment.addresses.token,
    abi: GroundworkTokenAbi,
    functionName: 'totalSupply',
  })) as bigint;
  return {
    epoch,
    state: row.state,
    root: row.root,
    total: row.total ?? '0',
    paid: result.paid,
    artifactHash: row.artifact_hash,
    devices,
    connected: net.providers.filter((p) => p.agent?.connected).length,
    meanScore: scoredDevices ? Math.round(scoreSum / scoredDevices / 1000) / 1000 : 0,
    usagePaid: usagePaid.toString(),
    claimedThisEpoch: claimed.toString(),
    supply: supply.toString(),
    verify: v.pass,
  };
}

async function waitUntilClaimable(net: Testnet, epoch: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const r = (await net.client.readContract({
      address: net.deployment.addresses.distributor,
      abi: RewardDistributorAbi,
      functionName: 'claimableRoot',
      blockTag: 'pending',
    })) as { epoch: bigint; root: Hex };
    if (Number(r.epoch) >= epoch && r.root !== `0x${'00'.repeat(32)}`) return;
    await new Promise((res) => setTimeout(res, 250));
  }
}

/**
 * Rewards as of the last epoch this run settled (its claims covered exactly that epoch; the closer
 * may have scored a later one meanwhile), and what each provider has claimed on chain.
 */
async function fillBalances(net: Testnet, summary: DevnetSummary): Promise<void> {
  const settled = summary.epochs.at(-1)?.epoch;
  if (settled === undefined) return;
  const last = await net.oracle!.epochs.result(settled);
  const leaves = last?.leaves;
  for (let l = 0; l < (leaves?.amounts.length ?? 0); l++) summary.rewards[leafAccount(leaves!, l)] = leaves!.amounts[l]!.toString();
  for (const p of net.providers) {
    const claimed = (await net.client.readContract({
      address: net.deployment.addresses.distributor,
      abi: RewardDistributorAbi,
      functionName: 'claimed',
      args: [p.owner],
    })) as bigint;
    summary.claimed[p.owner.toLowerCase()] = claimed.toString();
  }
}

const TOKEN = 10n ** 18n;
function tokens(units: string): string {
  const n = BigInt(units);
  return `${n / TOKEN}.${(((n % TOKEN) * 100n) / TOKEN).toString().padStart(2, '0')}`;
}

export function formatEpoch(e: DevnetEpochSummary): string {
  return [
    `epoch ${e.epoch}`.padEnd(10),
    `${e.state}`.padEnd(7),
    `devices ${e.connected}/${e.devices}`,
    `mean score ${e.meanScore.toFixed(3)}`,
    `paid ${tokens(e.paid)} GWK${BigInt(e.usagePaid) > 0n ? ` (${tokens(e.usagePaid)} of it for usage)` : ''}`,
    `claimed ${tokens(e.claimedThisEpoch)} GWK`,
    `supply ${tokens(e.supply)} GWK`,
    `root ${e.root ? `${e.root.slice(0, 10)}…` : '(none)'}`,
    `verify ${e.verify ? 'PASS' : 'FAIL'}`,
  ].join(' · ');
}
