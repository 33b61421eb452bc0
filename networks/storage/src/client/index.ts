// The consumer's side of the storage network (Storj's uplink): a file is encrypted with a key that
// never leaves the consumer, erasure-coded into shards, committed, escrowed as a deal on chain,
// registered with the oracle (which places the shards) and uploaded to the providers directly.
// Reading fetches shards from the providers in parallel, checks each against the deal's
// commitment on chain (not only the oracle's word), decodes, decrypts and checks the file's CID.
// Reads are paid (orders.ts): the client escrows an allowance (a CreditEscrow job) and signs an
// order for every shard it asks for; `closeAllowance` cancels it, and its final settlement pays
// the providers for what they served and refunds the rest.
//
// Order in put, as in compute's submit: everything that can fail without costing anything
// (encoding, the quote, the credit balance) comes before the deal opens; once it is open the
// credits are held until the oracle settles it or the consumer terminates and reclaims.
import { randomBytes } from 'node:crypto';
import { type Address, type Hex, bytesToHex, hexToBytes } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  buyCredits,
  type ChainSession,
  chainSession,
  CreditEscrowAbi,
  type Deployment,
  escrowJobId,
  networkId,
  openAllowanceOnChain,
  sendContract,
  ServiceCreditsAbi,
  StorageDealsAbi,
} from '@groundwork/contracts';
import { cidOf } from '@groundwork/protocol';
import { decodeSegmentPieces, encodeFileToShards } from '../codec.ts';
import { dealCommitment, shardRoot } from '../commitment.ts';
import { KEY_BYTES, newFileKey } from '../encryption.ts';
import { type Layout, pieceOffset, segmentCount, segmentPieceBytes } from '../layout.ts';
import { encodeOrderHeader, ORDER_HEADER, orderDomain, retrievalCredits, signOrder } from '../orders.ts';
import { type DealStatus, KIND } from '../plugin/wire.ts';

export type { DealStatus };

export class StorageClientError extends Error {
  override name = 'StorageClientError';
  constructor(
    message: string,
    /** `unreachable`, the oracle's reason code (`unknown-deal`, `not-enough-providers`…), or the client's own. */
    readonly code: string = 'error',
  ) {
    super(message);
  }
}

export type StorageClientOptions = {
  oracleUrl: string;
  rpcUrl?: string;
  deployment?: Deployment;
  privateKey?: Hex;
  /** Reads an allowance the client opens itself pays for (default 16: it is opened again when spent). */
  allowanceReads?: number;
  /** Seconds such an allowance lasts (default one day; what it did not pay is refunded after). */
  allowanceSeconds?: number;
};

/** A retrieval allowance: credits escrowed for reads, and what the client has signed orders for. */
export type Allowance = {
  id: Hex;
  credits: bigint;
  deadline: number;
  /** Credits of the orders signed against it. */
  signed: bigint;
  /** Held for reads under way (each holds enough for every shard once), and how many there are. */
  reserved: bigint;
  reads: number;
  txHash: Hex;
};

export type PutOptions = {
  /** Seconds the file is stored (default 30 days). */
  duration?: number;
  /** Shards that rebuild the file, and shards in all (default 4-of-8). */
  k?: number;
  n?: number;
  /** Encrypt on the client (default true; the key is returned and stays with the consumer). */
  encrypt?: boolean;
  /** Plaintext bytes per segment (default 1 MiB, IPFS's chunk size). */
  segmentBytes?: number;
  name?: string;
  /** Buy the credits the consumer lacks (burning its token) instead of failing. */
  buyCredits?: boolean;
  /** The deal id's nonce (default: 64 random bits). */
  nonce?: bigint;
  onProgress?: (line: string) => void;
};

export type PutResult = {
  dealId: Hex;
  cid: string;
  /** The file key (hex), or null for an unencrypted file: keep it, the network never sees it. */
  key: Hex | null;
  layout: Layout;
  shardBytes: number;
  cost: bigint;
  txHash: Hex;
  status: DealStatus;
};

const HTTP_TIMEOUT_MS = 120_000;
const DAY = 86_400;

type Chain = ChainSession & { deals: Address; escrow: Address };

export class StorageClient {
  readonly oracleUrl: string;
  readonly consumer: Address | null;
  private readonly options: StorageClientOptions;
  private session: Chain | null = null;
  private allowance: Allowance | null = null;
  /** Picking and opening allowances, one at a time (reads may run concurrently: the S3 gateway). */
  private allowanceLock: Promise<unknown> = Promise.resolve();

  constructor(options: StorageClientOptions) {
    this.oracleUrl = options.oracleUrl.replace(/\/+$/, '');
    this.options = options;
    this.consumer = options.privateKey ? privateKeyToAccount(options.privateKey).address : null;
  }

  private chain(what: string): Chain {
    if (this.session) return this.session;
    const { rpcUrl, deployment, privateKey } = this.options;
    const missing = [!rpcUrl && 'rpcUrl', !deployment && 'deployment', !privateKey && 'privateKey'].filter(Boolean);
    if (missing.length) throw new StorageClientError(`${what} needs the chain: give the client ${missing.join(', ')}`, 'no-chain');
    const { deals, escrow } = deployment!.addresses;
    if (!deals) throw new StorageClientError('the deployment has no StorageDeals contract', 'no-deals-contract');
    if (!escrow) throw new StorageClientError('the deployment has no CreditEscrow contract (reads are paid from it)', 'no-escrow-contract');
    this.session = { ...chainSession(rpcUrl!, deployment!, privateKey!), deals, escrow };
    return this.session;
  }

  // ------------------------------------------------------------------ the oracle

  private async call(method: 'GET' | 'POST', route: string, body?: unknown): Promise<unknown> {
    const what = `${method} /v1/${KIND}/${route}`;
    let res: Response;
    try {
      res = await fetch(`${this.oracleUrl}/v1/${KIND}/${route}`, {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
    } catch (err) {
      throw new StorageClientError(`cannot reach the oracle at ${this.oracleUrl}: ${(err as Error).message}`, 'unreachable');
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new StorageClientError(
        `the oracle answered ${res.status} to ${what} with something that is not JSON: ${text.slice(0, 120)}`,
        'malformed',
      );
    }
    if (!res.ok) {
      const b = json as { error?: string; detail?: string };
      throw new StorageClientError(`the oracle answered ${res.status} to ${what}: ${b.error}: ${b.detail}`, b.error ?? 'error');
    }
    return json;
  }

  async status(dealId: string): Promise<DealStatus> {
    if (!/^0x[0-9a-f]{64}$/.test(dealId))
      throw new StorageClientError(`${JSON.stringify(dealId)} is not a deal id (0x and 64 hex digits)`, 'bad-deal-id');
    return (await this.call('GET', `deals/${dealId}`)) as DealStatus;
  }

  async ls(consumer: Address | null = this.consumer): Promise<DealStatus[]> {
    return ((await this.call('GET', `deals${consumer ? `?consumer=${consumer}` : ''}`)) as { deals: DealStatus[] }).deals;
  }

  /** The deal holding the file with this CID (the newest active one), or the deal by id. */
  async resolve(ref: string): Promise<DealStatus> {
    if (/^0x[0-9a-f]{64}$/.test(ref)) return this.status(ref);
    if (!/^b[a-z2-7]{20,120}$/.test(ref))
      throw new StorageClientError(`${JSON.stringify(ref)} is neither a CID (bafk…) nor a deal id (0x…)`, 'bad-ref');
    const found = (await this.ls())
      .filter((d) => d.cid === ref)
      .sort((a, b) => Number(a.state === 'active') - Number(b.state === 'active') || a.start - b.start);
    if (!found.length) throw new StorageClientError(`no deal of ${this.consumer ?? 'anyone'} stores ${ref}`, 'unknown-cid');
    return found.at(-1)!;
  }

  // ------------------------------------------------------------------ put and get

  async put(bytes: Uint8Array, o: PutOptions = {}): Promise<PutResult> {
    const progress = o.onProgress ?? (() => {});
    const c = this.chain('put');
    const duration = o.duration ?? 30 * DAY;
    if (!Number.isSafeInteger(duration) || duration <= 0)
      throw new RangeError(`duration must be a positive number of seconds, got ${duration}`);
    const layout: Layout = {
      size: bytes.length,
      segmentBytes: o.segmentBytes ?? 2 ** 20,
      k: o.k ?? 4,
      n: o.n ?? 8,
      encrypted: o.encrypt ?? true,
    };
    const key = layout.encrypted ? newFileKey() : null;
    progress(`encoding ${bytes.length} bytes into ${layout.n} shards (${layout.k} rebuild it${layout.encrypted ? ', AES-256-GCM' : ''})`);
    const encoded = encodeFileToShards(bytes, layout, key);
    const network = networkId(KIND);
    const stored = BigInt(encoded.shardBytes * layout.n);
    const cost = (await c.client.readContract({
      address: c.deals,
      abi: StorageDealsAbi,
      functionName: 'quote',
      args: [network, stored, BigInt(duration)],
    })) as bigint;
    const balance = await this.credits(c);
    if (balance < cost) {
      if (!o.buyCredits)
        throw new StorageClientError(`the deal costs ${cost} credits; ${c.account.address} has ${balance}`, 'insufficient-credits');
      progress(`buying ${cost - balance} credits`);
      await buyCredits(c, cost - balance);
    }
    const dealId = escrowJobId(c.account.address, network, o.nonce ?? BigInt(`0x${randomBytes(8).toString('hex')}`));
    progress(`opening deal ${dealId} on chain (${cost} credits for ${duration} s)`);
    const txHash = await sendContract(c, c.deals, StorageDealsAbi, 'open', [
      network,
      dealId,
      bytesToHex(encoded.commitment),
      layout.n,
      stored,
      BigInt(duration),
      cost,
    ]);
    const placed = (await this.call('POST', 'deals', {
      dealId,
      cid: encoded.cid,
      layout,
      shardRoots: encoded.shardRoots.map((r) => bytesToHex(r)),
      name: o.name ?? '',
    }).catch((err: StorageClientError) => {
      throw new StorageClientError(`${err.message} (deal ${dealId} is open on chain: terminate it to get the credits back)`, err.code);
    })) as DealStatus;
    let sent = 0;
    await Promise.all(
      placed.shards.map(async (s) => {
        if (!s.url) throw new StorageClientError(`shard ${s.index} was placed on ${s.device}, which gave no address`, 'no-provider-url');
        const res = await fetch(`${s.url}shards/${dealId}/${s.index}`, {
          method: 'PUT',
          body: encoded.shards[s.index] as Uint8Array<ArrayBuffer>,
          signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
        }).catch((err: Error) => {
          throw new StorageClientError(`uploading shard ${s.index} to ${s.url} failed: ${err.message}`, 'upload-failed');
        });
        if (!res.ok)
          throw new StorageClientError(
            `${s.url} refused shard ${s.index}: ${res.status} ${(await res.text()).slice(0, 200)}`,
            'upload-refused',
          );
        await res.body?.cancel();
        sent += encoded.shardBytes;
        progress(`uploaded ${sent} of ${encoded.shardBytes * layout.n} bytes`);
      }),
    );
    return {
      dealId,
      cid: encoded.cid,
      key: key ? bytesToHex(key) : null,
      layout,
      shardBytes: encoded.shardBytes,
      cost,
      txHash,
      status: await this.status(dealId),
    };
  }

  /** Waits until every shard of the deal is stored (the providers reported it). */
  async waitStored(dealId: string, timeoutMs = 60_000): Promise<DealStatus> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.status(dealId);
      if (s.shards.every((x) => x.state === 'stored')) return s;
      if (Date.now() > end)
        throw new StorageClientError(`deal ${dealId}: ${s.healthy} of ${s.shards.length} shards stored after ${timeoutMs} ms`, 'timeout');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Reads a file back: shards fetched in parallel (data shards first, so an intact file needs no
   * decoding), each checked against the deal's commitment on chain; any k rebuild it.
   */
  async get(
    ref: string,
    o: { key?: Hex | null; onProgress?: (line: string) => void; buyCredits?: boolean } = {},
  ): Promise<{ bytes: Uint8Array; status: DealStatus; fetched: number[]; paid: bigint; allowance: Hex }> {
    const status = await this.resolve(ref);
    const { layout } = status;
    if (layout.encrypted && (!o.key || hexToBytes(o.key).length !== KEY_BYTES))
      throw new StorageClientError(`${status.cid} is encrypted: give its key (32 bytes, hex)`, 'no-key');
    await this.checkRoots(status);
    // Enough for every shard once: a provider that fails is replaced by the next.
    const perShard = retrievalCredits(status.shardBytes, status.retrievalCreditsPerGB);
    const needed = perShard * BigInt(layout.n);
    const allowance = await this.allowanceFor(needed, o);
    let paid = 0n;
    try {
      const order = [...status.shards].sort((a, b) => Number(a.state !== 'stored') - Number(b.state !== 'stored') || a.index - b.index);
      const pieces: (Uint8Array | null)[] = new Array(layout.n).fill(null);
      const fetched: number[] = [];
      let next = 0;
      const errors: string[] = [];
      // k fetches at a time; each failure starts the next candidate until k shards are in. No more
      // than k are ever asked for at once: each one is paid.
      let inFlight = 0;
      const worker = async (): Promise<void> => {
        while (fetched.length + inFlight < layout.k && next < order.length) {
          const s = order[next++]!;
          inFlight++;
          const bytes = await this.fetchShard(status, s.index, s.url, s.device, allowance, perShard, () => (paid += perShard))
            .catch((err: Error) => {
              errors.push(err.message);
              return null;
            })
            .finally(() => inFlight--);
          if (bytes && fetched.length < layout.k) {
            pieces[s.index] = bytes;
            fetched.push(s.index);
            o.onProgress?.(`fetched shard ${s.index} (${fetched.length} of ${layout.k})`);
          }
        }
      };
      await Promise.all(Array.from({ length: layout.k }, worker));
      if (fetched.length < layout.k)
        throw new StorageClientError(
          `only ${fetched.length} of the ${layout.k} shards needed could be read: ${errors.join('; ')}`,
          'unavailable',
        );
      const key = o.key ? hexToBytes(o.key) : null;
      const out = new Uint8Array(layout.size);
      let at = 0;
      for (let s = 0; s < segmentCount(layout); s++) {
        const size = segmentPieceBytes(layout, s);
        const off = pieceOffset(layout, s);
        const plain = decodeSegmentPieces(
          layout,
          key,
          s,
          pieces.map((p) => (p ? p.subarray(off, off + size) : null)),
        );
        out.set(plain, at);
        at += plain.length;
      }
      if (cidOf(out) !== status.cid) throw new StorageClientError(`the decoded file is not ${status.cid} (wrong key?)`, 'cid-mismatch');
      return { bytes: out, status, fetched: fetched.sort((a, b) => a - b), paid, allowance: allowance.id };
    } finally {
      await this.release(allowance, needed);
    }
  }

  /** The allowance reads are paid from now, or null. */
  currentAllowance(): Allowance | null {
    return this.allowance;
  }

  /**
   * Escrows `credits` for reads until `seconds` from now (CreditEscrow, storage network). Reads
   * sign their orders against it; `closeAllowance` ends it early.
   */
  async openAllowance(credits: bigint, o: { seconds?: number; buyCredits?: boolean; nonce?: bigint } = {}): Promise<Allowance> {
    if (credits <= 0n) throw new RangeError(`an allowance needs a positive number of credits, got ${credits}`);
    const c = this.chain('openAllowance');
    const seconds = o.seconds ?? this.options.allowanceSeconds ?? DAY;
    const balance = await this.credits(c);
    if (balance < credits) {
      if (!o.buyCredits)
        throw new StorageClientError(`a read allowance of ${credits} credits; ${c.account.address} has ${balance}`, 'insufficient-credits');
      await buyCredits(c, credits - balance);
    }
    const { id, deadline, txHash } = await openAllowanceOnChain(c, KIND, credits, seconds, o.nonce);
    this.allowance = { id, credits, deadline, signed: 0n, reserved: 0n, reads: 0, txHash };
    // The oracle settles it finally (the refund) even if no order ever reaches it.
    await this.call('POST', `allowances/${id}`, {});
    return this.allowance;
  }

  /**
   * Cancels the allowance on chain: no order can be signed against it any more, and the oracle's
   * final settlement pays the providers what they served and refunds the rest.
   */
  async closeAllowance(): Promise<Allowance | null> {
    const a = this.allowance;
    if (!a) return null;
    this.allowance = null;
    // Reads still under way cancel it when the last one ends.
    if (a.reads === 0) await this.cancelAllowance(a);
    return a;
  }

  /** An allowance with `needed` credits held for one read; `release` gives them back after it. */
  private allowanceFor(needed: bigint, o: { buyCredits?: boolean }): Promise<Allowance> {
    const pick = this.allowanceLock.then(async () => {
      let a = this.allowance;
      // Its deadline a minute away at least: an order signed later could reach the oracle too late.
      const fits = a && a.credits - a.signed - a.reserved >= needed && a.deadline * 1000 > Date.now() + 60_000;
      if (a && !fits) {
        // Retired: cancelled now if no read uses it, else by the last one (release).
        this.allowance = null;
        if (a.reads === 0) await this.cancelAllowance(a);
        a = null;
      }
      a ??= await this.openAllowance(needed * BigInt(this.options.allowanceReads ?? 16), { buyCredits: o.buyCredits });
      a.reserved += needed;
      a.reads++;
      return a;
    });
    this.allowanceLock = pick.catch(() => {});
    return pick;
  }

  private async release(a: Allowance, needed: bigint): Promise<void> {
    a.reserved -= needed;
    a.reads--;
    if (a !== this.allowance && a.reads === 0) await this.cancelAllowance(a);
  }

  private async cancelAllowance(a: Allowance): Promise<void> {
    const c = this.chain('closeAllowance');
    await sendContract(c, c.escrow, CreditEscrowAbi, 'cancel', [a.id]);
  }

  /** The shard roots the oracle reports must be the ones the deal on chain commits to. */
  private async checkRoots(status: DealStatus): Promise<void> {
    const c = this.chain('get');
    const deal = (await c.client.readContract({
      address: c.deals,
      abi: StorageDealsAbi,
      functionName: 'deal',
      args: [status.dealId as Hex],
    })) as { commitment: Hex };
    const { commitment } = dealCommitment(
      status.shardBytes,
      status.shards.map((s) => hexToBytes(s.root as Hex)),
    );
    if (bytesToHex(commitment) !== deal.commitment)
      throw new StorageClientError(
        `the oracle's shard roots for ${status.dealId} are not the ones the deal on chain commits to`,
        'wrong-commitment',
      );
  }

  private async fetchShard(
    status: DealStatus,
    index: number,
    url: string | null,
    device: string | null,
    allowance: Allowance,
    credits: bigint,
    onSigned: () => void,
  ): Promise<Uint8Array> {
    if (!url || !device) throw new Error(`shard ${index} has no provider address`);
    const c = this.chain('get');
    const order = await signOrder(c.account, orderDomain(c.deployment.chainId, c.escrow), {
      allowance: allowance.id,
      deal: status.dealId as Hex,
      shard: index,
      device: device as Hex,
      offset: 0,
      length: status.shardBytes,
      credits: credits.toString(),
      serial: bytesToHex(randomBytes(32)),
    });
    // Counted when signed: the provider may be paid for it even if the bytes never arrive.
    allowance.signed += credits;
    onSigned();
    const res = await fetch(`${url}shards/${status.dealId}/${index}`, {
      headers: { [ORDER_HEADER]: encodeOrderHeader(order) },
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`shard ${index} from ${url}: ${res.status} ${(await res.text()).slice(0, 200)}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytesToHex(shardRoot(bytes)) !== status.shards[index]!.root)
      throw new Error(`shard ${index} from ${url} does not match its commitment`);
    return bytes;
  }

  /** Ends the deal now (`storage rm`): accrual stops; the final settlement refunds the rest. */
  async rm(ref: string): Promise<{ dealId: Hex; txHash: Hex }> {
    const status = await this.resolve(ref);
    const c = this.chain('rm');
    const txHash = await sendContract(c, c.deals, StorageDealsAbi, 'terminate', [status.dealId]);
    return { dealId: status.dealId as Hex, txHash };
  }

  // ------------------------------------------------------------------ the chain

  private async credits(c: Chain): Promise<bigint> {
    return (await c.client.readContract({
      address: c.deployment.addresses.credits,
      abi: ServiceCreditsAbi,
      functionName: 'balanceOf',
      args: [c.account.address],
    })) as bigint;
  }
}
