// The coverage network's SDK for consumers (IoT applications) and map readers. A consumer opens an
// allowance of credits on chain, routes its sensors to it, and reads back the frames its sensors
// got through (each with the hotspot that carried it and what it cost); a `Sensor` builds the
// frames a sensor sends, with its frame counter and MIC. Anyone can read the hotspots and per-hex
// data the map is drawn from.
import { randomBytes } from 'node:crypto';
import {
  buyCredits,
  type ChainSession,
  CreditEscrowAbi,
  chainSession,
  type Deployment,
  openAllowanceOnChain,
  ServiceCreditsAbi,
  sendContract,
} from '@groundwork/contracts';
import type { Address, Hex } from 'viem';
import { keyHash, sensorRegistrationText, uplinkMic } from './plugin/router.ts';
import { KIND, type Uplink } from './plugin/wire.ts';

export class CoverageClientError extends Error {
  override name = 'CoverageClientError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export type CoverageClientOptions = { oracleUrl: string; rpcUrl?: string; deployment?: Deployment; privateKey?: Hex };

export type DeliveredUplink = {
  fcnt: number;
  data: string;
  hotspot: Hex;
  rssiDbm: number;
  snrDb: number;
  credits: string;
  receivedAt: number;
};

export class CoverageClient {
  private session: ChainSession | null = null;
  constructor(private readonly o: CoverageClientOptions) {}

  private chain(what: string): ChainSession {
    if (!this.o.rpcUrl || !this.o.deployment || !this.o.privateKey)
      throw new CoverageClientError(`${what} needs the chain: rpcUrl, deployment and privateKey`, 'no-chain');
    this.session ??= chainSession(this.o.rpcUrl, this.o.deployment, this.o.privateKey);
    return this.session;
  }

  get account(): Address {
    return this.chain('an account').account.address;
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = `${this.o.oracleUrl.replace(/\/$/, '')}/v1/${KIND}/${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CoverageClientError(`cannot reach the oracle at ${this.o.oracleUrl}: ${(err as Error).message}`, 'unreachable');
    }
    const json = (await res.json().catch(() => null)) as { error?: string; detail?: string } | null;
    if (!res.ok)
      throw new CoverageClientError(
        `${method} ${path}: ${json?.error ?? res.status}: ${json?.detail ?? res.statusText}`,
        json?.error ?? 'http',
      );
    return json as T;
  }

  /** Escrows `credits` for the router to spend on this account's sensors' packets (bought with token if `buyCredits`). */
  async openAllowance(
    credits: bigint,
    o: { seconds?: number; buyCredits?: boolean } = {},
  ): Promise<{ id: Hex; credits: bigint; deadline: number }> {
    if (credits <= 0n) throw new RangeError(`an allowance needs a positive number of credits, got ${credits}`);
    const c = this.chain('openAllowance');
    const balance = (await c.client.readContract({
      address: c.deployment.addresses.credits,
      abi: ServiceCreditsAbi,
      functionName: 'balanceOf',
      args: [c.account.address],
    })) as bigint;
    if (balance < credits) {
      if (!o.buyCredits)
        throw new CoverageClientError(`an allowance of ${credits} credits; ${c.account.address} has ${balance}`, 'insufficient-credits');
      await buyCredits(c, credits - balance);
    }
    if (!c.deployment.addresses.escrow) throw new CoverageClientError('this deployment has no CreditEscrow contract', 'no-escrow-contract');
    const { id, deadline } = await openAllowanceOnChain(c, KIND, credits, o.seconds ?? 86_400);
    await this.call('POST', `allowances/${id}`, {});
    return { id, credits, deadline };
  }

  /** Cancels the allowance: the router's final settlement pays the hotspots what they carried and refunds the rest. */
  async closeAllowance(id: Hex): Promise<void> {
    const c = this.chain('closeAllowance');
    await sendContract(c, c.deployment.addresses.escrow!, CreditEscrowAbi, 'cancel', [id]);
  }

  async allowance(id: Hex): Promise<{ state: string; orders: number; reserved: string; settled: string }> {
    return this.call('GET', `allowances/${id}`);
  }

  /** Routes a sensor's packets to an allowance (the router needs its key to check each frame's MIC). */
  async registerSensor(sensor: Sensor, allowance: Hex): Promise<void> {
    const c = this.chain('registerSensor');
    const text = sensorRegistrationText(c.deployment.chainId, sensor.id, allowance, keyHash(sensor.key));
    const signature = await c.account.signMessage({ message: text });
    await this.call('POST', 'sensors', { sensor: sensor.id, key: Buffer.from(sensor.key).toString('hex'), allowance, signature });
  }

  async uplinks(sensor: string, after = -1): Promise<DeliveredUplink[]> {
    return (await this.call<{ uplinks: DeliveredUplink[] }>('GET', `sensors/${sensor}/uplinks?after=${after}`)).uplinks;
  }

  async hotspots(): Promise<{ epoch: number | null; hotspots: Record<string, unknown>[] }> {
    return this.call('GET', 'hotspots');
  }

  async hex(cell: string): Promise<Record<string, unknown>> {
    return this.call('GET', `hex/${cell}`);
  }
}

/** A sensor: its id (DevEUI), its session key, and the frames it sends. */
export class Sensor {
  private fcnt: number;
  constructor(
    readonly id: string,
    readonly key: Uint8Array,
    fcnt = 0,
  ) {
    if (!/^[0-9a-f]{16}$/.test(id)) throw new RangeError(`a sensor id is 16 lowercase hex digits, got ${id}`);
    if (key.length !== 16) throw new RangeError(`a sensor key is 16 bytes, got ${key.length}`);
    this.fcnt = fcnt;
  }

  static random(): Sensor {
    return new Sensor(randomBytes(8).toString('hex'), randomBytes(16));
  }

  /** The next frame carrying `data` (at most 255 bytes, LoRaWAN's largest payload). */
  frame(data: Uint8Array): Uplink {
    if (data.length > 255) throw new RangeError(`an uplink carries at most 255 bytes, got ${data.length}`);
    const b64 = Buffer.from(data).toString('base64');
    const fcnt = this.fcnt++;
    return { sensor: this.id, fcnt, data: b64, mic: uplinkMic(this.key, this.id, fcnt, b64) };
  }

  get nextFcnt(): number {
    return this.fcnt;
  }
}
