// One call boots a whole Groundwork network in-process, as storj's testplanet does: a real anvil,
// the real contracts, the oracle (PGlite or PostgreSQL) and K provider agents, each with its own
// P-256 device key and its own owner account. Every integration test and the devnet use it.
import type { KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { createPublicClient, http, parseEther, type Address, type Hex, type PublicClient } from 'viem';
import {
  DeviceRegistryAbi,
  GroundworkTokenAbi,
  deploySystem,
  devnetAccounts,
  devnetParameters,
  readDeploymentFile,
  startAnvil,
  type Anvil,
  type Deployment,
} from '@groundwork/contracts';
import {
  EpochClock,
  generateDeviceKey,
  deviceIdHex,
  deviceIdOf,
  devicePublicKey,
  type Challenge,
  type NetworkPlugins,
  type Report,
  type Worker,
  type WorkerContext,
} from '@groundwork/protocol';
import { uptimeNetwork } from '@groundwork/network-uptime';
import { startOracle, NETWORK_PLUGINS, type Oracle, type OracleConfig } from '@groundwork/oracle';
import {
  chainSession,
  createKeyFile,
  readKeyFile,
  registerDevice,
  startAgent,
  type Agent,
  type ChainSession,
  verifyEpoch,
  type VerifyResult,
} from '@groundwork/agent';

/** Oracle quorum keys: devnet accounts 1-3; the deployer is account 0; providers start at 10. */
export const ORACLE_ACCOUNTS = [1, 2, 3] as const;
export const FIRST_PROVIDER_ACCOUNT = 10;

export type Behaviour = 'honest' | 'late' | 'wrong-key' | 'replay' | 'offline';

export type TestnetProvider = {
  index: number;
  /** The network kind its device is registered on. */
  network: string;
  behaviour: Behaviour;
  owner: Address;
  ownerKey: Hex;
  device: Hex;
  key: KeyObject;
  session: ChainSession;
  agent: Agent | null;
};

export type TestnetOptions = {
  /** Number of providers (one device each). */
  devices?: number;
  /** Behaviour of provider i (default honest). */
  behaviour?: (i: number) => Behaviour;
  epochSeconds?: number;
  /** Keeps chain state, database, keys and artifacts; a second start resumes. */
  dataDir?: string;
  databaseUrl?: string;
  oracle?: Partial<OracleConfig>;
  /** Anvil's block interval in seconds; by default anvil mines each transaction at once. */
  blockTime?: number;
  port?: number;
  log?: (line: string) => void;
  /** Start the oracle in this process (default true); false leaves `oracle` null for tests that run it elsewhere. */
  startOracle?: boolean;
  /** The deployment's networks (default: `uptime` alone); their plug-ins come from NETWORK_PLUGINS or `oracle.plugins`. */
  networks?: { kind: string; weight: bigint; storagePrice?: bigint }[];
  /** The network provider i's device registers on (default: the first of `networks`). */
  network?: (i: number) => string;
  /** The worker provider i's agent runs instead of its network's own (planted cheaters of a market network). */
  worker?: (i: number) => Worker | undefined;
  /** The H3 cell provider i's device asserts when it registers (coverage hotspots), paying the location fee. */
  location?: (i: number) => string | undefined;
  /** Seconds a slash order waits for the guardian's veto (default: the reward challenge window). */
  slashWindow?: number;
};

export type Testnet = {
  anvil: Anvil;
  rpcUrl: string;
  deployment: Deployment;
  client: PublicClient;
  clock: EpochClock;
  oracle: Oracle | null;
  oracleConfig: OracleConfig;
  providers: TestnetProvider[];
  plugins: NetworkPlugins;
  /**
   * The first epoch that began after the agents last became ready: every device is connected for
   * all of it, so it is the first epoch whose challenges they all could answer.
   */
  firstFullEpoch: number;
  /** Starts the oracle (again) in this process, e.g. after a test stopped or killed one. */
  startOracle(overrides?: Partial<OracleConfig>): Promise<Oracle>;
  /** Starts agents for every provider that is not offline (again after a restart); `wsUrl` defaults to the in-process oracle. */
  startAgents(wsUrl?: string): Promise<void>;
  /** Resolves when the chain has a posted root for `epoch` (or the oracle closed it empty). */
  waitForEpoch(epoch: number, timeoutMs?: number): Promise<void>;
  /** `epoch verify` of `epoch` against this chain and the in-process oracle (or a local artifact file). */
  verify(epoch: number, artifactFile?: string): Promise<VerifyResult>;
  tokenBalance(account: Address): Promise<bigint>;
  /** The registry's DeviceSlashed events of `device`, oldest first. */
  slashes(device: Hex): Promise<{ args: { requested?: bigint; slashed?: bigint; evidenceHash?: Hex } }[]>;
  stop(): Promise<void>;
};

const PROVIDER_FUNDS = parseEther('1000');

function providerAccount(i: number): { address: Address; privateKey: Hex } {
  return devnetAccounts(FIRST_PROVIDER_ACCOUNT + i);
}

export async function startTestnet(opts: TestnetOptions = {}): Promise<Testnet> {
  const log = opts.log ?? (() => {});
  const count = opts.devices ?? 3;
  const dataDir = opts.dataDir;
  if (dataDir) mkdirSync(path.join(dataDir, 'keys'), { recursive: true });

  const anvil = await startAnvil({
    port: opts.port ?? 0,
    ...(opts.blockTime ? { blockTime: opts.blockTime } : {}),
    stateDir: dataDir,
    log,
  });
  const client = createPublicClient({ transport: http(anvil.rpcUrl) }) as PublicClient;
  const deploymentFile = dataDir ? path.join(dataDir, 'deployment.json') : undefined;
  let deployment: Deployment | null = null;
  try {
    if (deploymentFile && existsSync(deploymentFile)) {
      const saved = readDeploymentFile(deploymentFile);
      const missing = (opts.networks ?? []).filter((n) => !saved.networks.some((m) => m.kind === n.kind)).map((n) => n.kind);
      if (!saved.addresses.escrow || !saved.addresses.slashOrders) {
        // A data directory from before the escrow and slash-order contracts: its credits contract
        // cannot hold credits, so the markets could not run on it.
        if (dataDir) retireOracleState(dataDir, log, 'the saved deployment predates the credit escrow and slash orders');
      } else if (missing.length) {
        // Devices of a network the deployment does not have could not register.
        if (dataDir) retireOracleState(dataDir, log, `the saved deployment has no ${missing.join(', ')} network`);
      } else if (await deployedOnChain(client, saved)) deployment = saved;
      else if (dataDir) retireOracleState(dataDir, log, 'the chain no longer holds the saved deployment (it was rolled back past it)');
    }
    if (!deployment) {
      const deployer = devnetAccounts(0);
      const genesisTime = (await client.getBlock()).timestamp;
      deployment = await deploySystem({
        rpcUrl: anvil.rpcUrl,
        privateKey: deployer.privateKey,
        parameters: {
          ...devnetParameters({
            deployer: deployer.address,
            oracles: ORACLE_ACCOUNTS.map((i) => devnetAccounts(i).address),
            quorum: 2,
            genesisTime,
            epochDuration: BigInt(opts.epochSeconds ?? 30),
            // The window must end within an epoch (roots are posted once per epoch).
            challengeWindow: BigInt(Math.max(1, Math.floor((opts.epochSeconds ?? 30) / 6))),
            genesis: [{ account: deployer.address, amount: 1_000_000_000n * 10n ** 18n }],
            ...(opts.slashWindow === undefined ? {} : { slashWindow: BigInt(opts.slashWindow) }),
          }),
          ...(opts.networks ? { networks: opts.networks } : {}),
        },
        outFile: deploymentFile,
      });
      log(`deployed Groundwork on anvil ${anvil.rpcUrl} (chain ${deployment.chainId})`);
      await anvil.saveState();
    }
  } catch (err) {
    await anvil.stop();
    throw err;
  }
  const clock = new EpochClock(deployment.parameters.schedule);
  const domain = { chainId: deployment.chainId, registry: deployment.addresses.registry };

  // Providers: fund, register, keep keys (on disk when there is a data directory).
  const deployerSession = chainSession(anvil.rpcUrl, deployment, devnetAccounts(0).privateKey);
  const providers: TestnetProvider[] = [];
  const networkOf = (i: number) => opts.network?.(i) ?? opts.networks?.[0]?.kind ?? uptimeNetwork.kind;
  const pluginsOf = { ...NETWORK_PLUGINS, ...opts.oracle?.plugins };
  for (let i = 0; i < count; i++) {
    const acct = providerAccount(i);
    const keyFile = dataDir ? path.join(dataDir, 'keys', `device-${i}.pem`) : undefined;
    const key = keyFile && existsSync(keyFile) ? readKeyFile(keyFile) : keyFile ? createKeyFile(keyFile) : generateDeviceKey().privateKey;
    const device = deviceIdHex(deviceIdOf(devicePublicKey(key)));
    const session = chainSession(anvil.rpcUrl, deployment, acct.privateKey);
    const owner = await client
      .readContract({ address: deployment.addresses.registry, abi: DeviceRegistryAbi, functionName: 'ownerOf', args: [BigInt(device)] })
      .catch(() => null);
    if (!owner) {
      const balance = (await client.readContract({
        address: deployment.addresses.token,
        abi: GroundworkTokenAbi,
        functionName: 'balanceOf',
        args: [acct.address],
      })) as bigint;
      if (balance < PROVIDER_FUNDS / 2n) await transferToken(deployerSession, acct.address, PROVIDER_FUNDS);
      if ((await client.getBalance({ address: acct.address })) < parseEther('1')) {
        // anvil funds only its first ten accounts with ether; providers need gas too.
        await client.waitForTransactionReceipt({
          hash: await deployerSession.wallet.sendTransaction({
            account: deployerSession.account,
            chain: null,
            to: acct.address,
            value: parseEther('10'),
          }),
        });
      }
      const cell = opts.location?.(i);
      await registerDevice(session, { key, network: networkOf(i), ...(cell ? { location: BigInt(`0x${cell}`) } : {}) });
    }
    providers.push({
      index: i,
      network: networkOf(i),
      behaviour: opts.behaviour?.(i) ?? 'honest',
      owner: acct.address,
      ownerKey: acct.privateKey,
      device,
      key,
      session,
      agent: null,
    });
  }
  log(`${providers.length} providers registered`);

  const oracleConfig: OracleConfig = {
    deployment,
    rpcUrl: anvil.rpcUrl,
    signerKeys: ORACLE_ACCOUNTS.map((i) => devnetAccounts(i).privateKey),
    quorum: 2,
    dataDir: dataDir ? path.join(dataDir, 'oracle') : undefined,
    databaseUrl: opts.databaseUrl,
    graceMs: 1000,
    log,
    ...opts.oracle,
  };

  const net: Testnet = {
    anvil,
    rpcUrl: anvil.rpcUrl,
    deployment,
    client,
    clock,
    oracle: null,
    oracleConfig,
    providers,
    // `epoch verify` recomputes with the plug-ins the oracle closed with.
    plugins: { ...NETWORK_PLUGINS, ...opts.oracle?.plugins },
    firstFullEpoch: clock.epochAtMs(Date.now()) + 1,
    async startOracle(overrides = {}) {
      net.oracle = await startOracle({ ...oracleConfig, ...overrides });
      return net.oracle;
    },
    async startAgents(wsUrl = net.oracle?.wsUrl) {
      if (!wsUrl) throw new Error('start the oracle first, or name its socket URL');
      for (const p of providers) {
        if (p.behaviour === 'offline') continue;
        await p.agent?.stop();
        // Asked once per start: a worker may hold resources (a storage provider's shard server).
        const worker = opts.worker?.(p.index);
        p.agent = startAgent({
          wsUrl,
          maxBackoffMs: 1000,
          device: p.device,
          key: p.key,
          domain,
          network: { ...(pluginsOf[p.network] ?? uptimeNetwork), ...(worker ? { worker } : {}) },
          clock,
          answer: cheatingAnswer(p, providers),
          log: (line) => log(`device ${p.index}: ${line}`),
        });
      }
      await Promise.all(providers.filter((p) => p.agent).map((p) => p.agent!.ready()));
      net.firstFullEpoch = clock.epochAtMs(Date.now()) + 1;
    },
    async waitForEpoch(epoch, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const oracle = net.oracle;
        if (oracle) {
          const row = await oracle.epochs.row(epoch).catch(() => null);
          if (row && (row.state === 'posted' || row.state === 'empty')) return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`epoch ${epoch} was not closed within ${timeoutMs} ms`);
    },
    verify: (epoch, artifactFile) =>
      verifyEpoch({ epoch, deployment: deployment!, rpcUrl: anvil.rpcUrl, plugins: net.plugins, oracleUrl: net.oracle?.url, artifactFile }),
    tokenBalance: async (account) =>
      (await client.readContract({
        address: deployment!.addresses.token,
        abi: GroundworkTokenAbi,
        functionName: 'balanceOf',
        args: [account],
      })) as bigint,
    slashes: (device) =>
      client.getContractEvents({
        address: deployment!.addresses.registry,
        abi: DeviceRegistryAbi,
        eventName: 'DeviceSlashed',
        args: { deviceId: BigInt(device) },
        fromBlock: 0n,
      }) as Promise<{ args: { requested?: bigint; slashed?: bigint; evidenceHash?: Hex } }[]>,
    async stop() {
      for (const p of providers) await p.agent?.stop();
      await net.oracle?.stop();
      await anvil.stop();
    },
  };
  if (opts.startOracle !== false) {
    try {
      await net.startOracle();
      await net.startAgents();
    } catch (err) {
      await net.stop().catch(() => {});
      throw err;
    }
  }
  return net;
}

/** Whether the chain holds the whole deployment: a chain rolled back mid-deployment holds part of it. */
async function deployedOnChain(client: PublicClient, deployment: Deployment): Promise<boolean> {
  if ((await client.getBlockNumber({ cacheTime: 0 })) < deployment.endBlock) return false;
  for (const address of Object.values(deployment.addresses)) {
    const code = await client.getCode({ address });
    if (!code || code === '0x') return false;
  }
  return true;
}

/**
 * The chain in the data directory lost the deployment its oracle state belongs to (it was rolled
 * back past it): that state describes contracts that no longer exist, so it is moved aside, not
 * reused, and a new deployment starts from scratch.
 */
function retireOracleState(dataDir: string, log: (line: string) => void, why: string): void {
  const oracleDir = path.join(dataDir, 'oracle');
  if (!existsSync(oracleDir)) return;
  const aside = path.join(dataDir, `oracle.lost-deployment-${Date.now()}`);
  renameSync(oracleDir, aside);
  log(`${why}: deploying again; the old oracle state is in ${aside}`);
}

async function transferToken(s: ChainSession, to: Address, amount: bigint): Promise<void> {
  const { request } = await s.client.simulateContract({
    account: s.account,
    address: s.deployment.addresses.token,
    abi: GroundworkTokenAbi,
    functionName: 'transfer',
    args: [to, amount],
  });
  await s.client.waitForTransactionReceipt({ hash: await s.wallet.writeContract(request) });
}

/**
 * The planted cheaters: `late` answers after the deadline, `wrong-key` signs with another
 * device's key, `replay` answers every challenge with the first nonce it ever saw.
 */
function cheatingAnswer(
  p: TestnetProvider,
  all: readonly TestnetProvider[],
): ((c: Challenge, ctx: WorkerContext) => Promise<Report | null> | Report | null) | undefined {
  const answer = (c: Challenge, ctx: WorkerContext) => uptimeNetwork.worker.onChallenge!(c, ctx) as Report;
  switch (p.behaviour) {
    case 'late':
      return async (c, ctx) => {
        await new Promise((r) => setTimeout(r, Math.max(0, c.deadline - Date.now()) + 300));
        return answer(c, ctx);
      };
    case 'wrong-key': {
      const other = all.find((q) => q.index !== p.index)!;
      return (c, ctx) => answer(c, { ...ctx, key: other.key });
    }
    case 'replay': {
      let first: Challenge | null = null;
      return (c, ctx) => {
        first ??= c;
        return answer({ ...c, nonce: first.nonce }, ctx);
      };
    }
    default:
      return undefined;
  }
}
