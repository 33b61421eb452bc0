// The oracle (layer 2) in one call: database, chain follower, ingest over HTTP and WebSocket,
// challenger, epoch closer and public API.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createPublicClient, createWalletClient, http, type Hex, type PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { RewardDistributorAbi, type Deployment } from '@groundwork/contracts';
import { EpochClock, type AnyNetworkPlugin, type NetworkService } from '@groundwork/protocol';
import { networkId } from '@groundwork/contracts';
import { createHandler, deviceInEpoch } from './api.ts';
import { Challenger } from './challenger.ts';
import { type CloseBlock, EpochCloser, type CloseStep } from './closer.ts';
import { openDatabase, type Database } from './db/database.ts';
import { DeviceCache } from './devices.ts';
import { EpochStore, type EpochState } from './epochs.ts';
import { ChainFollower } from './follower.ts';
import { Ingest } from './ingest.ts';
import { SignaturePool, defaultVerifyThreads } from './signatures.ts';
import { createMetrics } from './metrics.ts';
import { SocketHub } from './sockets.ts';

import { NETWORK_PLUGINS } from './plugins.ts';

export { NETWORK_PLUGINS };

export type OracleConfig = {
  deployment: Deployment;
  rpcUrl: string;
  /** Oracle quorum keys held by this process (secp256k1); the first `quorum` sign each root. */
  signerKeys: Hex[];
  quorum: number;
  /** Key that sends release/postRoot transactions (defaults to the first signer). */
  senderKey?: Hex;
  /** PGlite and artifact files live here. */
  dataDir?: string;
  /** PostgreSQL instead of PGlite. */
  databaseUrl?: string;
  host?: string;
  port?: number;
  /** Network parameters by kind (defaults from each plug-in). */
  parameters?: Record<string, unknown>;
  /** Plug-ins by kind that this oracle uses instead of, or besides, NETWORK_PLUGINS (tests plant cheaters with them). */
  plugins?: Readonly<Record<string, AnyNetworkPlugin>>;
  /** How long after an epoch's end its reports are still taken (ms, default 2000). */
  graceMs?: number;
  /** Worker threads that check device signatures at ingest (default min(4, cores − 1), at least 1). */
  verifyThreads?: number;
  crashAfter?: CloseStep;
  log?: (line: string) => void;
  onEpochClosed?: (epoch: number, state: EpochState) => void;
  /** Called when epochs stop closing (with what blocks them and what to do) and with null when they close again. */
  onCloseBlocked?: (block: CloseBlock | null) => void;
  /** Background loops (follower, challenger, closer); tests may drive them by hand. */
  autoRun?: boolean;
};

export type Oracle = {
  url: string;
  wsUrl: string;
  db: Database;
  /** Closed epochs and their artifacts. */
  epochs: EpochStore;
  closer: EpochCloser;
  follower: ChainFollower;
  ingest: Ingest;
  /** The worker threads that check device signatures for ingest. */
  signatures: SignaturePool;
  hub: SocketHub;
  clock: EpochClock;
  parameters: Record<string, unknown>;
  stop(): Promise<void>;
};

export class OracleConfigError extends Error {
  override name = 'OracleConfigError';
}

export async function startOracle(config: OracleConfig): Promise<Oracle> {
  const { deployment } = config;
  const plugins: Record<string, AnyNetworkPlugin> = {};
  const parameters: Record<string, unknown> = {};
  for (const net of deployment.networks) {
    const plugin = config.plugins?.[net.kind] ?? NETWORK_PLUGINS[net.kind];
    if (!plugin) throw new OracleConfigError(`deployment has network "${net.kind}" but this oracle has no plug-in for it`);
    const parsed = plugin.parameters.schema.safeParse(config.parameters?.[net.kind] ?? plugin.parameters.defaults);
    if (!parsed.success) throw new OracleConfigError(`parameters for ${net.kind}: ${parsed.error.message}`);
    plugins[net.kind] = plugin;
    parameters[net.kind] = parsed.data;
  }
  if (config.signerKeys.length < config.quorum || config.quorum < 1) {
    throw new OracleConfigError(`need at least quorum (${config.quorum}) signer keys, got ${config.signerKeys.length}`);
  }
  const verifyThreads = config.verifyThreads ?? defaultVerifyThreads();
  if (!Number.isInteger(verifyThreads) || verifyThreads < 1 || verifyThreads > 64) {
    throw new OracleConfigError(`verifyThreads must be an integer in 1..64, got ${config.verifyThreads}`);
  }
  const log = config.log ?? (() => {});
  const signers = config.signerKeys.map((k) => privateKeyToAccount(k));
  const client = createPublicClient({ transport: http(config.rpcUrl, { retryCount: 2 }) }) as PublicClient;
  const wallet = createWalletClient({
    account: privateKeyToAccount(config.senderKey ?? config.signerKeys[0]!),
    transport: http(config.rpcUrl),
  });
  const clock = new EpochClock(deployment.parameters.schedule);
  const domain = { chainId: deployment.chainId, registry: deployment.addresses.registry };
  const graceMs = config.graceMs ?? 2000;

  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir ? path.join(config.dataDir, 'pglite') : undefined,
  });
  const metrics = createMetrics({ defaultMetrics: true });
  const devices = new DeviceCache();
  await devices.load(db);

  let challenger: Challenger | null = null;
  const follower = new ChainFollower(db, client, deployment, {
    log,
    onDevicesChanged: (changed) => {
      void devices
        .load(db, changed)
        .then((added) => challenger?.addDevices(added))
        .catch((err) => log(`loading changed devices failed: ${(err as Error).message.split('\n')[0]}`));
    },
    onRewind: () => {
      void devices
        .reload(db)
        .then((added) => challenger?.addDevices(added))
        .catch((err) => log(`reloading devices after a rewind failed: ${(err as Error).message.split('\n')[0]}`));
    },
  });
  await follower.init();

  const epochs = new EpochStore({
    db,
    artifactDir: config.dataDir ? path.join(config.dataDir, 'artifacts') : undefined,
  });
  const closer = new EpochCloser({
    db,
    epochs,
    deployment,
    client,
    wallet,
    signers,
    quorum: config.quorum,
    follower,
    clock,
    plugins,
    parameters,
    metrics,
    graceMs,
    rpcUrl: config.rpcUrl,
    crashAfter: config.crashAfter,
    log,
    onClosed: config.onEpochClosed,
    onBlocked: config.onCloseBlocked,
    // `services` is filled below, before the closer starts.
    beforeCollect: async (epoch, snapshotBlock) => {
      for (const service of Object.values(services)) await service.beforeClose?.(epoch, snapshotBlock);
    },
  });
  await closer.init();

  const signatures = new SignaturePool(verifyThreads);
  await signatures.start();
  // Each network's services (compute: matcher and spot-checker) get their own tables, routes and
  // the sockets of their devices; the oracle knows nothing of what they do.
  const services: Record<string, NetworkService> = {};
  let hub: SocketHub | null = null;
  for (const [kind, plugin] of Object.entries(plugins)) {
    if (!plugin.service) continue;
    services[kind] = plugin.service({
      network: kind,
      networkId: networkId(kind),
      parameters: parameters[kind],
      db,
      chain: {
        chainId: deployment.chainId,
        client,
        wallet,
        signers,
        quorum: config.quorum,
        addresses: deployment.addresses as unknown as Record<string, Hex>,
      },
      send: (device, payload) => hub?.send(device, { type: 'service', network: kind, payload }) ?? false,
      isConnected: (device) => hub?.isConnected(device) ?? false,
      device: (device) => {
        const d = devices.get(device);
        return d && { device: d.device, owner: d.owner, network: d.network };
      },
      clock,
      log: (line) => log(`${kind}: ${line}`),
      rewardOf: async (epoch, device) => {
        if (!(await epochs.row(epoch))) return null;
        return (await deviceInEpoch({ epochs, plugins }, epoch, device)).reward;
      },
    });
    for (const sql of services[kind]!.schema) await db.query(sql);
  }
  const serviceError = (kind: string, what: string) => (err: unknown) => log(`${kind}: ${what} failed: ${(err as Error).message}`);
  const ingest = new Ingest({
    db,
    devices,
    domain,
    plugins,
    clock,
    graceMs,
    metrics,
    signatures,
    isClosing: (e) => closer.isClosing(e),
    onStored: (reports) => {
      for (const r of reports) {
        const service = services[r.report.network];
        if (service?.onReport) void Promise.resolve(service.onReport(r)).catch(serviceError(r.report.network, 'a stored report'));
      }
    },
  });
  hub = new SocketHub({
    devices,
    domain,
    ingest,
    metrics,
    currentEpoch: () => clock.epochAtMs(Date.now()),
    services: {
      has: (network) => network in services,
      message: async (device, network, payload) => services[network]!.onMessage?.(device, payload),
      hello: async (device, network, payload) => services[network]!.onConnection?.(device, payload),
    },
  });
  challenger = new Challenger({ db, devices, hub, clock, plugins, parameters, metrics, log });

  const handler = createHandler({
    db,
    epochs,
    plugins,
    ingest,
    metrics,
    isConnected: (d) => hub.isConnected(d),
    status: async () => {
      const counts = await epochs.statusCounts();
      return {
        chainId: deployment.chainId,
        addresses: deployment.addresses,
        networks: deployment.networks.map((n) => ({ kind: n.kind, id: n.id, weight: n.weight.toString(), parameters: parameters[n.kind] })),
        epoch: {
          current: clock.epochAtMs(Date.now()),
          duration: clock.duration,
          genesisTime: clock.genesisTime,
          lastClosed: counts.closed,
          lastPosted: counts.posted,
        },
        devices: { registered: devices.size, connected: hub.connected },
        follower: { block: follower.cursor.toString(), lastError: follower.lastError, rewinds: follower.rewinds },
        closer: { lastError: closer.lastError, blocked: closer.blocked, slashing: closer.slashing },
        services: Object.fromEntries(Object.entries(services).map(([kind, s]) => [kind, s.status?.() ?? {}])),
        quorum: { signers: signers.map((s) => s.address), quorum: config.quorum },
        database: db.kind,
      };
    },
    claimableRoot: async () => {
      const r = (await client
        .readContract({
          address: deployment.addresses.distributor,
          abi: RewardDistributorAbi,
          functionName: 'claimableRoot',
          blockTag: 'pending',
        })
        .catch(() => null)) as { root: Hex; epoch: bigint } | null;
      return r && r.root !== `0x${'00'.repeat(32)}` ? { epoch: Number(r.epoch), root: r.root } : null;
    },
    services,
    claimedOnChain: async (account) =>
      (await client.readContract({
        address: deployment.addresses.distributor,
        abi: RewardDistributorAbi,
        functionName: 'claimed',
        args: [account],
      })) as bigint,
  });
  const server: Server = createServer((req, res) => void handler(req, res));
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  hub.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new OracleConfigError(`cannot listen on ${config.host ?? '127.0.0.1'}:${config.port ?? 0}: ${err.message}`)),
    );
    server.listen(config.port ?? 0, config.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host ?? '127.0.0.1';

  if (config.autoRun !== false) {
    // Devices the catch-up finds reach the cache and the challenger through onDevicesChanged.
    await follower.syncToHead().catch(() => {});
    follower.start();
    challenger.start();
    closer.start();
  }
  for (const service of Object.values(services)) await service.start();
  log(`oracle: http://${host}:${port} (${db.kind}), ${devices.size} devices, quorum ${config.quorum}-of-${signers.length}`);

  return {
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}/v1/connect`,
    db,
    epochs,
    closer,
    follower,
    ingest,
    signatures,
    hub,
    clock,
    parameters,
    async stop() {
      for (const service of Object.values(services)) await service.stop();
      challenger?.stop();
      await closer.stop();
      await follower.stop();
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await signatures.close();
      await db.close();
    },
  };
}
