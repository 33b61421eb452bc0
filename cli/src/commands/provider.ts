// `groundwork provider ...`: what someone who contributes hardware runs. init (device key),
// register (on chain), start (the agent), status (the oracle's view: "why was I not paid?"),
// rewards and claim.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { formatEther, type Address, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { assertLocation, claimRewards, createKeyFile, fetchRewards, registerDevice, startAgent, type RewardsView } from '@groundwork/agent';
import {
  DeviceKeyError,
  EpochClock,
  deviceIdHex,
  deviceIdOf,
  devicePublicKey,
  importDeviceKey,
  type Challenge,
  type WorkerContext,
} from '@groundwork/protocol';
import {
  address,
  existingFile,
  flag,
  h3Location,
  keySource,
  loadDeployment,
  loadKeyFile,
  loadPrivateKey,
  networkOf,
  optional,
  parseFlags,
  required,
  tokenAmount,
  url,
  type KeySource,
} from '../args.ts';
import { helpFlag, jsonFlag, type Command } from '../command.ts';
import { CliError, UsageError, aborted, describeError, envOf, line, oneLine, printJson, step, stopSignal, type Io } from '../io.ts';
import { connectChain, expectOk, oracleGet, withOracle } from '../remote.ts';

export function defaultKeyFile(env: Record<string, string | undefined> = process.env): string {
  return path.join(env.GROUNDWORK_HOME ?? path.join(homedir(), '.groundwork'), 'device.pem');
}

export function deviceOf(key: KeyObject): Hex {
  return deviceIdHex(deviceIdOf(devicePublicKey(key)));
}

export function tokens(units: bigint | string): string {
  return `${formatEther(BigInt(units))} GWK`;
}

// ---------------------------------------------------------------------------------------------
// provider init

const INIT_USAGE = `usage: groundwork provider init [--key-file <file>] [--import <pem-file>] [--json]

Creates a new P-256 device key, or imports one, into a key file (PKCS#8 PEM, mode 0600). An
existing key file is never overwritten. Prints the device id and the public key.

options:
  --key-file <file>       where the key goes (default $GROUNDWORK_HOME/device.pem, ~/.groundwork)
  --import <pem-file>     import this P-256 private key (PKCS#8 or SEC1 PEM) instead of creating one
${jsonFlag(24)}
${helpFlag(24)}`;

export type InitOptions = { keyFile: string; importFile?: string; json: boolean };

export function parseInit(argv: string[], env: Record<string, string | undefined> = {}): InitOptions {
  const f = parseFlags(argv, { 'key-file': { type: 'string' }, import: { type: 'string' }, json: { type: 'boolean' } });
  const keyFile = optional(f, 'key-file') ?? defaultKeyFile(env);
  if (keyFile === '') throw new UsageError('--key-file must not be empty');
  return { keyFile, importFile: optional(f, 'import'), json: flag(f, 'json') };
}

export async function runInit(o: InitOptions, io: Io): Promise<number> {
  let imported: KeyObject | undefined;
  if (o.importFile !== undefined) {
    existingFile('import', o.importFile);
    try {
      imported = importDeviceKey(readFileSync(o.importFile, 'utf8'));
    } catch (err) {
      if (err instanceof DeviceKeyError) throw new UsageError(`--import ${o.importFile}: ${oneLine(err.message)}`);
      throw err;
    }
  }
  if (existsSync(o.keyFile))
    throw new CliError(`--key-file ${o.keyFile} already exists; refusing to overwrite a device key (give another --key-file)`);
  const key = createKeyFile(o.keyFile, imported);
  const pub = devicePublicKey(key);
  const device = deviceOf(key);
  if (o.json) {
    printJson(io, { keyFile: path.resolve(o.keyFile), imported: imported !== undefined, device, publicKey: pub });
  } else {
    line(io.stdout, `${imported ? 'imported' : 'created'} device key ${path.resolve(o.keyFile)} (mode 0600)`);
    line(io.stdout, `  device  ${device}`);
    line(io.stdout, `  key x   ${pub.x}`);
    line(io.stdout, `  key y   ${pub.y}`);
    line(io.stdout, `next: groundwork provider register --key-file ${o.keyFile} --deployment <file> --rpc <url> --owner-key-file <file>`);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// provider register

const REGISTER_USAGE = `usage: groundwork provider register --key-file <file> --deployment <file> --rpc <url>
         (--owner-key <hex> | --owner-key-file <file>) [--network <kind>] [--stake <tokens>]
         [--location <h3>] [--json]

Registers the device key on chain under the owner account: buys the onboarding fee in service
credits if the owner has too few, takes the stake and sends the device's P-256 signature.

options:
  --key-file <file>         the device key (from \`groundwork provider init\`)
  --deployment <file>       the deployment file (addresses, chain id)
  --rpc <url>               JSON-RPC endpoint of the chain
  --owner-key <hex>         the owner's private key (0x + 64 hex digits); pays fee, stake and gas
  --owner-key-file <file>   a file holding the owner's private key instead
  --network <kind>          the device's network (default uptime)
  --stake <tokens>          stake in whole tokens, decimals allowed (default the registry's minimum)
  --location <h3>           H3 cell index in hex; asserting a location costs the location fee
${jsonFlag(26)}
${helpFlag(26)}`;

export type RegisterOptions = {
  keyFile: string;
  deploymentFile: string;
  rpc: string;
  owner: KeySource;
  network: string;
  stake?: bigint;
  location?: bigint;
  json: boolean;
};

export function parseRegister(argv: string[]): RegisterOptions {
  const f = parseFlags(argv, {
    'key-file': { type: 'string' },
    deployment: { type: 'string' },
    rpc: { type: 'string' },
    'owner-key': { type: 'string' },
    'owner-key-file': { type: 'string' },
    network: { type: 'string' },
    stake: { type: 'string' },
    location: { type: 'string' },
    json: { type: 'boolean' },
  });
  const stake = optional(f, 'stake');
  const location = optional(f, 'location');
  return {
    keyFile: required(f, 'key-file'),
    deploymentFile: required(f, 'deployment'),
    rpc: url('rpc', required(f, 'rpc')),
    owner: keySource(f, 'owner-key'),
    network: optional(f, 'network') ?? 'uptime',
    stake: stake === undefined ? undefined : tokenAmount('stake', stake),
    location: location === undefined ? undefined : h3Location('location', location),
    json: flag(f, 'json'),
  };
}

export async function runRegister(o: RegisterOptions, io: Io): Promise<number> {
  const deployment = loadDeployment('deployment', o.deploymentFile);
  const key = loadKeyFile('key-file', o.keyFile);
  const ownerKey = loadPrivateKey(o.owner);
  networkOf('network', o.network, deployment);
  step(io, `connecting to ${o.rpc}`);
  const session = await connectChain(o.rpc, deployment, ownerKey);
  step(io, `registering device ${deviceOf(key)} (credits for the fee if needed, approvals, register)`);
  const r = await registerDevice(session, { key, network: o.network, stake: o.stake, location: o.location }).catch((err) => {
    throw new CliError(`registration failed: ${describeError(err)}`);
  });
  if (o.json) {
    printJson(io, {
      device: r.device,
      deviceId: r.deviceId,
      owner: session.account.address,
      network: o.network,
      tx: r.tx,
      fee: r.fee,
      stake: r.stake,
      creditsBought: r.creditsBought,
      location: o.location ?? null,
    });
  } else {
    line(io.stdout, `registered device ${r.device}`);
    line(io.stdout, `  owner    ${session.account.address}`);
    line(io.stdout, `  network  ${o.network}`);
    line(io.stdout, `  fee      ${r.fee} credits${r.creditsBought ? ` (bought ${r.creditsBought})` : ''}`);
    line(io.stdout, `  stake    ${tokens(r.stake)}`);
    line(io.stdout, `  tx       ${r.tx}`);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// provider assert

const ASSERT_USAGE = `usage: groundwork provider assert --device <id> --location <h3> --deployment <file> --rpc <url>
         (--owner-key <hex> | --owner-key-file <file>) [--json]

Asserts (or moves) the device's location on chain: an H3 cell, resolution 12 for a coverage
hotspot. Every assert pays the registry's location fee in credits (bought with token if the owner
has too few), as Helium's do; the oracle uses the new cell from the next epoch it closes.

options:
  --device <id>             the device id (0x + 64 hex digits, as \`provider init\` printed it)
  --location <h3>           H3 cell index in hex
  --deployment <file>       the deployment file (addresses, chain id)
  --rpc <url>               JSON-RPC endpoint of the chain
  --owner-key <hex>         the owner's private key (0x + 64 hex digits); pays the fee and gas
  --owner-key-file <file>   a file holding the owner's private key instead
${jsonFlag(26)}
${helpFlag(26)}`;

async function runAssert(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    device: { type: 'string' },
    location: { type: 'string' },
    deployment: { type: 'string' },
    rpc: { type: 'string' },
    'owner-key': { type: 'string' },
    'owner-key-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  const device = required(f, 'device');
  if (!/^0x[0-9a-f]{64}$/.test(device))
    throw new UsageError(`--device must be 0x followed by 64 lowercase hex digits, got ${JSON.stringify(device)}`);
  const location = h3Location('location', required(f, 'location'));
  const deployment = loadDeployment('deployment', required(f, 'deployment'));
  const rpc = url('rpc', required(f, 'rpc'));
  const ownerKey = loadPrivateKey(keySource(f, 'owner-key'));
  const json = flag(f, 'json');
  step(io, `connecting to ${rpc}`);
  const session = await connectChain(rpc, deployment, ownerKey);
  const r = await assertLocation(session, { device: device as Hex, location }).catch((err) => {
    throw new CliError(`asserting the location failed: ${describeError(err)}`);
  });
  const cell = location.toString(16);
  if (json) printJson(io, { device, location: cell, fee: r.fee, creditsBought: r.creditsBought, tx: r.tx });
  else
    line(
      io.stdout,
      `device ${device} asserted at ${cell} · fee ${r.fee} credits${r.creditsBought ? ` (bought ${r.creditsBought})` : ''} · tx ${r.tx}`,
    );
  return 0;
}

// ---------------------------------------------------------------------------------------------
// provider start

const START_USAGE = `usage: groundwork provider start --key-file <file> --deployment <file> --oracle <url> [--network <kind>] [--json]

Runs the provider agent: connects to the oracle (over a WebSocket, so the device may sit behind
NAT), answers its challenges with the device key, and reconnects when the connection drops.
Runs until Ctrl-C (SIGINT) or SIGTERM.

options:
  --key-file <file>       the device key
  --deployment <file>     the deployment file (chain id, registry, epoch schedule)
  --oracle <url>          the oracle's base URL, e.g. http://127.0.0.1:8787
  --network <kind>        the device's network (default: what the oracle has registered, else uptime)
  --json                  one JSON object per event on stdout
${helpFlag(24)}`;

export type StartOptions = { keyFile: string; deploymentFile: string; oracle: string; network?: string; json: boolean };

export function parseStart(argv: string[]): StartOptions {
  const f = parseFlags(argv, {
    'key-file': { type: 'string' },
    deployment: { type: 'string' },
    oracle: { type: 'string' },
    network: { type: 'string' },
    json: { type: 'boolean' },
  });
  return {
    keyFile: required(f, 'key-file'),
    deploymentFile: required(f, 'deployment'),
    oracle: url('oracle', required(f, 'oracle')),
    network: optional(f, 'network'),
    json: flag(f, 'json'),
  };
}

/** ws(s)://host/v1/connect for an oracle's http(s) base URL. */
export function socketUrl(oracleUrl: string): string {
  return `${oracleUrl.replace(/\/+$/, '').replace(/^http/, 'ws')}/v1/connect`;
}

export async function runStart(o: StartOptions, io: Io): Promise<number> {
  const deployment = loadDeployment('deployment', o.deploymentFile);
  const key = loadKeyFile('key-file', o.keyFile);
  if (o.network !== undefined) networkOf('network', o.network, deployment);
  const { NETWORK_PLUGINS } = await import('@groundwork/oracle');
  const device = deviceOf(key);
  const event = (kind: string, text: string, data: Record<string, unknown> = {}) => {
    if (o.json) line(io.stdout, JSON.stringify({ at: new Date().toISOString(), event: kind, ...data, message: text }));
    else line(io.stdout, `${new Date().toISOString().slice(11, 19)} ${text}`);
  };

  const status = expectOk(await oracleGet<{ chainId: number }>(o.oracle, '/v1/status'), '/v1/status');
  if (status.chainId !== deployment.chainId)
    throw new CliError(
      `the oracle at ${o.oracle} serves chain ${status.chainId}, but the deployment file is for chain ${deployment.chainId}`,
    );
  const reg = await oracleGet<{ network?: string }>(o.oracle, `/v1/devices/${device}`);
  const network = o.network ?? (reg.status === 200 ? reg.body.network : undefined) ?? 'uptime';
  const plugin = NETWORK_PLUGINS[network];
  if (!plugin) throw new CliError(`this build has no worker for network ${JSON.stringify(network)}`);
  if (reg.status === 404)
    event('warning', `device ${device} is not registered (yet); the oracle refuses it until it is (run \`groundwork provider register\`)`, {
      device,
    });

  const { signal, dispose } = stopSignal(io);
  const short = (n: string) => `${n.slice(0, 10)}…`;
  const agent = startAgent({
    wsUrl: socketUrl(o.oracle),
    device,
    key,
    domain: { chainId: deployment.chainId, registry: deployment.addresses.registry },
    network: plugin,
    clock: new EpochClock(deployment.parameters.schedule),
    answer: async (c: Challenge, ctx: WorkerContext) => {
      event('challenge', `challenge ${short(c.nonce)} (deadline in ${Math.max(0, c.deadline - Date.now())} ms)`, {
        nonce: c.nonce,
        deadline: c.deadline,
      });
      const report = (await plugin.worker.onChallenge?.(c, ctx)) ?? null;
      if (report) event('answer', `answered ${short(c.nonce)}`, { nonce: c.nonce });
      return report;
    },
    log: (text) => event('agent', text),
  });
  event('starting', `device ${device} → ${socketUrl(o.oracle)} (network ${network}); Ctrl-C to stop`, {
    device,
    network,
    oracle: o.oracle,
  });
  let wasConnected = false;
  void agent.ready().then(() => {
    if (wasConnected || signal.aborted) return;
    wasConnected = true;
    event('connected', 'connected to the oracle');
  });
  const watch = setInterval(() => {
    if (agent.connected !== wasConnected) {
      wasConnected = agent.connected;
      event(wasConnected ? 'connected' : 'disconnected', wasConnected ? 'connected to the oracle' : 'disconnected; reconnecting');
    }
  }, 250);
  try {
    await aborted(signal);
  } finally {
    clearInterval(watch);
    await agent.stop();
    dispose();
  }
  const s = agent.stats;
  event('stopped', `stopped: ${s.challenges} challenges, ${s.answers} answers, ${s.acked} acknowledged, ${s.rejected} rejected`, {
    stats: s,
  });
  return 0;
}

// ---------------------------------------------------------------------------------------------
// provider status

const STATUS_USAGE = `usage: groundwork provider status (--key-file <file> | --device <id>) --oracle <url> [--json]

Shows what the oracle knows about the device: its registration, whether it is connected, its
score and reward in the last closed epochs and, for epochs that paid it nothing, why (every
rejected report or unanswered challenge, with its reason), and the owner's rewards.

options:
  --key-file <file>       the device key (only its public half is used)
  --device <id>           or the device id (0x + 64 hex digits)
  --oracle <url>          the oracle's base URL
${jsonFlag(24)}
${helpFlag(24)}`;

export type StatusOptions = { keyFile?: string; device?: Hex; oracle: string; json: boolean };

export function parseStatus(argv: string[]): StatusOptions {
  const f = parseFlags(argv, {
    'key-file': { type: 'string' },
    device: { type: 'string' },
    oracle: { type: 'string' },
    json: { type: 'boolean' },
  });
  const keyFile = optional(f, 'key-file');
  const device = optional(f, 'device');
  if (keyFile !== undefined && device !== undefined) throw new UsageError('give --key-file or --device, not both');
  if (keyFile === undefined && device === undefined) throw new UsageError('missing --key-file (or --device)');
  if (device !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(device))
    throw new UsageError(`--device must be 0x followed by 64 hex digits, got ${JSON.stringify(device)}`);
  return { keyFile, device: device?.toLowerCase() as Hex | undefined, oracle: url('oracle', required(f, 'oracle')), json: flag(f, 'json') };
}

type DeviceRecord = {
  device: Hex;
  network: string;
  owner: Address;
  stake: string;
  unstaking: string;
  slashed: string;
  location: string | null;
  registeredAt: number;
  connected: boolean;
};
type Rejection = { network?: string; device: Hex; digest: Hex | null; reason: string; detail: string };
type EpochRow = {
  epoch: number;
  score: { score: string; detail: Record<string, number | string> } | null;
  reward: string;
  rejections: Rejection[];
};
type RejectionsView = {
  device: Hex;
  epochs: EpochRow[];
  pending: { epoch: number; network: string; reason: string; detail: string; at: string }[];
};

export type StatusView = {
  device: Hex;
  registered: boolean;
  registration: DeviceRecord | null;
  connected: boolean;
  epochs: (EpochRow & { why: string | null })[];
  pending: RejectionsView['pending'];
  rewards: RewardsView | null;
};

/** Why an epoch paid the device nothing, in one line (null when it paid). */
export function whyUnpaid(e: EpochRow): string | null {
  if (BigInt(e.reward) > 0n) return null;
  const reasons = new Map<string, { n: number; detail: string }>();
  for (const r of e.rejections) {
    const x = reasons.get(r.reason);
    if (x) x.n++;
    else reasons.set(r.reason, { n: 1, detail: r.detail });
  }
  const listed = [...reasons].map(([reason, x]) => `${reason}${x.n > 1 ? ` ×${x.n}` : ''} (${x.detail})`).join('; ');
  if (!e.score) return `not scored: the device was not in the epoch's snapshot (registered after it began?)${listed ? `; ${listed}` : ''}`;
  if (BigInt(e.score.score) === 0n) {
    if (listed) return `score 0: ${listed}`;
    return e.score.detail.challenges === 0
      ? 'score 0: no challenge was issued to it (the agent was not connected?)'
      : 'score 0: no challenge was answered';
  }
  return listed ? `scored but paid nothing: ${listed}` : 'scored but paid nothing (the epoch released no budget?)';
}

export async function runStatus(o: StatusOptions, io: Io): Promise<number> {
  const device = o.device ?? deviceOf(loadKeyFile('key-file', o.keyFile!));
  const reg = await oracleGet<DeviceRecord>(o.oracle, `/v1/devices/${device}`);
  if (reg.status !== 404) expectOk(reg, `/v1/devices/${device}`);
  const registration = reg.status === 200 ? reg.body : null;
  const rej = expectOk(await oracleGet<RejectionsView>(o.oracle, `/v1/devices/${device}/rejections`), `/v1/devices/${device}/rejections`);
  const rewards = registration ? await withOracle(o.oracle, () => fetchRewards(o.oracle, registration.owner)) : null;
  const view: StatusView = {
    device,
    registered: registration !== null,
    registration,
    connected: registration?.connected ?? false,
    epochs: rej.epochs.map((e) => ({ ...e, why: whyUnpaid(e) })),
    pending: rej.pending,
    rewards,
  };
  if (o.json) {
    printJson(io, view);
    return 0;
  }
  const out = (t = '') => line(io.stdout, t);
  out(`device ${device}`);
  if (!registration) {
    out(
      '  registered  no: the oracle has seen no registration for this device (run `groundwork provider register`; the oracle follows the chain with a short delay)',
    );
  } else {
    out(`  registered  yes, at ${new Date(registration.registeredAt).toISOString()}`);
    out(`  owner       ${registration.owner}`);
    out(`  network     ${registration.network}`);
    out(
      `  stake       ${tokens(registration.stake)}${BigInt(registration.unstaking) > 0n ? `, unstaking ${tokens(registration.unstaking)}` : ''}${BigInt(registration.slashed) > 0n ? `, slashed ${tokens(registration.slashed)}` : ''}`,
    );
    if (registration.location) out(`  location    ${registration.location}`);
    out(`  connected   ${registration.connected ? 'yes' : 'no'}`);
  }
  if (view.epochs.length) {
    out();
    out('closed epochs (newest first):');
    for (const e of view.epochs) {
      const score = e.score
        ? `score ${(Number(e.score.score) / 1e6).toFixed(3)}${e.score.detail.challenges !== undefined ? ` (${e.score.detail.answered}/${e.score.detail.challenges} answered)` : ''}`
        : 'not scored';
      out(`  epoch ${String(e.epoch).padEnd(6)} ${score.padEnd(30)} reward ${tokens(e.reward)}`);
      if (e.why) out(`      why no reward: ${e.why}`);
      else if (e.rejections.length)
        out(`      ${e.rejections.length} report(s) did not count: ${[...new Set(e.rejections.map((r) => r.reason))].join(', ')}`);
    }
  } else {
    out();
    out('no closed epochs yet');
  }
  if (view.pending.length) {
    out();
    out('refused reports in epochs not closed yet:');
    for (const p of view.pending.slice(0, 10)) out(`  epoch ${p.epoch} ${p.reason}: ${p.detail}`);
    if (view.pending.length > 10) out(`  … and ${view.pending.length - 10} more`);
  }
  if (rewards) {
    out();
    out(
      `owner rewards: earned ${tokens(rewards.latestCumulative)} (through epoch ${rewards.latestEpoch ?? '-'}), claimed ${tokens(rewards.claimed)}, claimable now ${tokens(rewards.claim?.claimable ?? '0')}`,
    );
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// provider rewards

const REWARDS_USAGE = `usage: groundwork provider rewards (--owner <address> | --owner-key <hex> | --owner-key-file <file>) --oracle <url> [--json]

Shows an owner's rewards as the oracle computes them: the cumulative amount earned, what has been
claimed on chain and what can be claimed now (with the Merkle proof in --json).

options:
  --owner <address>         the owner account
  --owner-key <hex>         or the owner's private key (only its address is used)
  --owner-key-file <file>   or a file holding it
  --oracle <url>            the oracle's base URL
${jsonFlag(26)}
${helpFlag(26)}`;

export type RewardsOptions = { owner?: Address; ownerKey?: KeySource; oracle: string; json: boolean };

export function parseRewards(argv: string[]): RewardsOptions {
  const f = parseFlags(argv, {
    owner: { type: 'string' },
    'owner-key': { type: 'string' },
    'owner-key-file': { type: 'string' },
    oracle: { type: 'string' },
    json: { type: 'boolean' },
  });
  const owner = optional(f, 'owner');
  const hasKey = optional(f, 'owner-key') !== undefined || optional(f, 'owner-key-file') !== undefined;
  if (owner !== undefined && hasKey) throw new UsageError('give --owner or --owner-key, not both');
  if (owner === undefined && !hasKey) throw new UsageError('missing --owner (or --owner-key / --owner-key-file)');
  return {
    owner: owner === undefined ? undefined : address('owner', owner),
    ownerKey: hasKey ? keySource(f, 'owner-key') : undefined,
    oracle: url('oracle', required(f, 'oracle')),
    json: flag(f, 'json'),
  };
}

export async function runRewards(o: RewardsOptions, io: Io): Promise<number> {
  const owner = o.owner ?? privateKeyToAccount(loadPrivateKey(o.ownerKey!)).address;
  const view = await withOracle(o.oracle, () => fetchRewards(o.oracle, owner));
  if (o.json) {
    printJson(io, view);
    return 0;
  }
  line(io.stdout, `rewards of ${owner}`);
  line(io.stdout, `  earned     ${tokens(view.latestCumulative)} (cumulative through epoch ${view.latestEpoch ?? '-'})`);
  line(io.stdout, `  claimed    ${tokens(view.claimed)}`);
  line(
    io.stdout,
    `  claimable  ${tokens(view.claim?.claimable ?? '0')}${view.claim ? ` (against the root of epoch ${view.claim.epoch})` : ''}`,
  );
  return 0;
}

// ---------------------------------------------------------------------------------------------
// provider claim

const CLAIM_USAGE = `usage: groundwork provider claim --deployment <file> --rpc <url> --oracle <url>
         (--owner-key <hex> | --owner-key-file <file>) [--json]

Claims what the distributor owes the owner: fetches the proof from the oracle and sends the claim.

options:
  --deployment <file>       the deployment file
  --rpc <url>               JSON-RPC endpoint of the chain
  --oracle <url>            the oracle's base URL
  --owner-key <hex>         the owner's private key (0x + 64 hex digits)
  --owner-key-file <file>   a file holding it instead
${jsonFlag(26)}
${helpFlag(26)}`;

export type ClaimOptions = { deploymentFile: string; rpc: string; oracle: string; owner: KeySource; json: boolean };

export function parseClaim(argv: string[]): ClaimOptions {
  const f = parseFlags(argv, {
    deployment: { type: 'string' },
    rpc: { type: 'string' },
    oracle: { type: 'string' },
    'owner-key': { type: 'string' },
    'owner-key-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  return {
    deploymentFile: required(f, 'deployment'),
    rpc: url('rpc', required(f, 'rpc')),
    oracle: url('oracle', required(f, 'oracle')),
    owner: keySource(f, 'owner-key'),
    json: flag(f, 'json'),
  };
}

export async function runClaim(o: ClaimOptions, io: Io): Promise<number> {
  const deployment = loadDeployment('deployment', o.deploymentFile);
  const ownerKey = loadPrivateKey(o.owner);
  step(io, `connecting to ${o.rpc}`);
  const session = await connectChain(o.rpc, deployment, ownerKey);
  step(io, `fetching the proof from ${o.oracle} and claiming`);
  const c = await withOracle(o.oracle, () => claimRewards(session, o.oracle));
  const account = session.account.address;
  if (o.json) {
    printJson(
      io,
      c
        ? { account, claimed: true, amount: c.amount, tx: c.tx, epoch: c.epoch }
        : { account, claimed: false, amount: 0n, tx: null, epoch: null },
    );
  } else if (!c) {
    line(io.stdout, `nothing to claim for ${account}`);
  } else {
    line(io.stdout, `claimed ${tokens(c.amount)} for ${account} (root of epoch ${c.epoch})`);
    line(io.stdout, `  tx  ${c.tx}`);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------

export const PROVIDER_USAGE = `usage: groundwork provider <command> [options]

commands:
  init       create (or import) a P-256 device key
  register   register the device on chain (fee in credits, stake)
  assert     assert or move the device's location (pays the location fee)
  start      run the agent: answer the oracle's challenges
  status     the oracle's view of the device: scores, rewards, why a report did not count
  rewards    an owner's earned, claimed and claimable rewards
  claim      claim the owner's rewards on chain

Run \`groundwork provider <command> --help\` for its options.`;

export const providerCommands: Command[] = [
  {
    name: 'provider init',
    summary: 'create or import a device key',
    usage: INIT_USAGE,
    run: (argv, io) => runInit(parseInit(argv, envOf(io)), io),
  },
  {
    name: 'provider register',
    summary: 'register the device on chain',
    usage: REGISTER_USAGE,
    run: (argv, io) => runRegister(parseRegister(argv), io),
  },
  {
    name: 'provider assert',
    summary: "assert or move the device's location (pays the location fee)",
    usage: ASSERT_USAGE,
    run: runAssert,
  },
  { name: 'provider start', summary: 'run the provider agent', usage: START_USAGE, run: (argv, io) => runStart(parseStart(argv), io) },
  {
    name: 'provider status',
    summary: "the oracle's view of the device",
    usage: STATUS_USAGE,
    run: (argv, io) => runStatus(parseStatus(argv), io),
  },
  { name: 'provider rewards', summary: "an owner's rewards", usage: REWARDS_USAGE, run: (argv, io) => runRewards(parseRewards(argv), io) },
  { name: 'provider claim', summary: 'claim rewards on chain', usage: CLAIM_USAGE, run: (argv, io) => runClaim(parseClaim(argv), io) },
];
