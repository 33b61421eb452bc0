// `groundwork storage ...`: what a consumer of the storage network runs. put a file (encrypt,
// erasure-code, open the deal on chain, upload the shards to their providers), get it back (any k
// shards, checked against the deal's commitment), ls the consumer's deals, status of one (where
// each shard is, its last proof, the durability estimate), rm (terminate the deal; the unproven
// rest is refunded). File keys never leave the consumer's machine: put keeps each in the keyring
// file (mode 0600), get reads it from there.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Hex } from 'viem';
import type { DealStatus, StorageClient } from '@groundwork/network-storage/client';
import { flag, loadDeployment, loadPrivateKey, optional, parseFlags, port, type Flags } from '../args.ts';
import { helpFlag, jsonFlag, type Command } from '../command.ts';
import { CHAIN_OPTIONS, CHAIN_SPEC, type ChainFlags, chainFlags, positional, positionalFile, withClient } from '../consumer.ts';
import { aborted, CliError, UsageError, envOf, line, printJson, stopSignal, type Io } from '../io.ts';

type Storage = typeof import('@groundwork/network-storage/client');
const loadStorage = (): Promise<Storage> => import('@groundwork/network-storage/client');

const KEYRING_OPTION = '  --keyring <file>        where file keys are kept (default ~/.groundwork/storage-keys.json)';

type Keyring = Record<string, { key: Hex | null; cid: string; name: string }>;

function keyringPath(f: Flags, io: Io): string {
  return optional(f, 'keyring') ?? path.join(envOf(io).HOME ?? os.homedir(), '.groundwork', 'storage-keys.json');
}

function readKeyring(file: string): Keyring {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Keyring;
  } catch (err) {
    throw new CliError(`--keyring ${file}: not a keyring (${(err as Error).message})`);
  }
}

/** Adds one key; written to a temp file and renamed, so a crash never leaves half a keyring. */
function saveKey(file: string, dealId: string, entry: Keyring[string]): void {
  const ring = readKeyring(file);
  ring[dealId] = entry;
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(ring, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** "30d", "12h", "90m", "3600s" or plain seconds. */
export function parseDuration(value: string): number {
  const m = /^([1-9][0-9]{0,9})([smhd]?)$/.exec(value);
  if (!m) throw new UsageError(`--duration must be a whole number of s, m, h or d (e.g. 30d), got ${JSON.stringify(value)}`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** "4-of-8": k shards of n rebuild the file. */
export function parseRedundancy(value: string): { k: number; n: number } {
  const m = /^([0-9]{1,3})-of-([0-9]{1,3})$/.exec(value);
  if (!m) throw new UsageError(`--redundancy must be k-of-n (e.g. 4-of-8), got ${JSON.stringify(value)}`);
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (k < 1 || n < 2 || k >= n || n > 255) throw new UsageError(`--redundancy ${value}: needs 1 ≤ k < n ≤ 255`);
  return { k, n };
}

async function client(storage: Storage, o: ChainFlags): Promise<StorageClient> {
  const deployment = loadDeployment('deployment', o.deploymentFile);
  if (!deployment.networks.some((n) => n.kind === 'storage'))
    throw new UsageError(
      `--deployment ${o.deploymentFile} has no storage network (it has ${deployment.networks.map((n) => n.kind).join(', ')})`,
    );
  if (!deployment.addresses.deals)
    throw new UsageError(`--deployment ${o.deploymentFile} has no StorageDeals address (an older deployment?)`);
  // One command, one read: the allowance it opens pays for this read alone and is closed after.
  return new storage.StorageClient({
    oracleUrl: o.oracle,
    rpcUrl: o.rpc,
    deployment,
    privateKey: loadPrivateKey(o.key),
    allowanceReads: 1,
  });
}

function statusLines(s: DealStatus): string[] {
  const d = s.durability;
  const out = [
    `deal ${s.dealId}  ${s.state}`,
    `  file        ${s.cid}${s.name ? `  (${s.name})` : ''}, ${s.layout.size} bytes, ${s.layout.k}-of-${s.layout.n}${s.layout.encrypted ? ', encrypted' : ''}`,
    `  stored      ${new Date(s.start * 1000).toISOString()} to ${new Date(s.end * 1000).toISOString()}`,
    `  shards      ${s.healthy} of ${s.shards.length} healthy, ${s.shardBytes} bytes each, ${s.repairs} repaired`,
    `  durability  ${d.nines === null ? 'beyond double precision' : `${d.nines.toFixed(1)} nines`} a year (loss rate ${d.lossPerDay.toExponential(2)} per provider-day)`,
  ];
  for (const x of s.shards)
    out.push(
      `  shard ${String(x.index).padStart(3)}  ${x.state.padEnd(9)} ${x.device ?? '-'}  ${x.lastProven === null ? 'not proven yet' : `proven in epoch ${x.lastProven}`}${x.faults ? `, ${x.faults} failed` : ''}`,
    );
  return out;
}

// ---------------------------------------------------------------------------------------------

const PUT_USAGE = `usage: groundwork storage put <file> --oracle <url> --deployment <file> --rpc <url> (--key <hex> | --key-file <file>) [options]

Stores a file: encrypts it with a new key (kept in the keyring, never sent), erasure-codes it,
opens a deal on chain for its bytes × duration, and uploads each shard to its provider.
Prints the file's CID and the deal id.

options:
${CHAIN_OPTIONS}
  --duration <d>          how long to store it: 30d (default), 12h, 90m, 3600s
  --redundancy <k-of-n>   shards that rebuild it, of shards in all (default 4-of-8)
  --no-encrypt            store the bytes as they are (anyone holding a shard can read them)
  --buy-credits           buy the credits the deal needs, burning token, if the balance is short
${KEYRING_OPTION}
${jsonFlag(24)}
${helpFlag(24)}`;

type PutOptions = ChainFlags & {
  file: string;
  duration: number;
  k: number;
  n: number;
  encrypt: boolean;
  buyCredits: boolean;
  keyring: string;
  json: boolean;
};

function parsePut(argv: string[], io: Io): PutOptions {
  const f = parseFlags(
    argv,
    {
      ...CHAIN_SPEC,
      duration: { type: 'string' },
      redundancy: { type: 'string' },
      'no-encrypt': { type: 'boolean' },
      'buy-credits': { type: 'boolean' },
      keyring: { type: 'string' },
    },
    1,
  );
  const file = positionalFile('file', positional(f, 'file', 'the file to store'));
  return {
    file,
    ...chainFlags(f),
    duration: parseDuration(optional(f, 'duration') ?? '30d'),
    ...parseRedundancy(optional(f, 'redundancy') ?? '4-of-8'),
    encrypt: !flag(f, 'no-encrypt'),
    buyCredits: flag(f, 'buy-credits'),
    keyring: keyringPath(f, io),
    json: flag(f, 'json'),
  };
}

async function runPut(o: PutOptions, io: Io): Promise<number> {
  const storage = await loadStorage();
  const c = await client(storage, o);
  const bytes = new Uint8Array(readFileSync(o.file));
  const r = await withClient(o, () =>
    c.put(bytes, {
      duration: o.duration,
      k: o.k,
      n: o.n,
      encrypt: o.encrypt,
      buyCredits: o.buyCredits,
      name: path.basename(o.file),
      onProgress: (l) => line(io.stderr, l),
    }),
  );
  saveKey(o.keyring, r.dealId, { key: r.key, cid: r.cid, name: path.basename(o.file) });
  if (o.json) printJson(io, { cid: r.cid, dealId: r.dealId, cost: r.cost, tx: r.txHash, keyring: o.keyring, status: r.status });
  else {
    line(io.stdout, r.cid);
    line(io.stdout, `  deal      ${r.dealId}`);
    line(io.stdout, `  escrowed  ${r.cost} credits for ${o.duration} s`);
    line(io.stdout, `  shards    ${o.n} of ${r.shardBytes} bytes, any ${o.k} rebuild it${r.key ? `; key kept in ${o.keyring}` : ''}`);
  }
  return 0;
}

const GET_USAGE = `usage: groundwork storage get <cid|deal> --oracle <url> --deployment <file> --rpc <url> (--key <hex> | --key-file <file>) [--out <file>] [--buy-credits]

Reads a file back from any k of its shards, each checked against the deal's commitment on chain,
and checks the result against its CID. Writes it to --out (default: the CID as the file name).
Reads are paid: an allowance is escrowed for the shards' egress (700 credits per GB by default),
each shard request carries an order signed against it, and the allowance is cancelled after the
read, so the oracle's final settlement pays the providers what they served and refunds the rest.

options:
${CHAIN_OPTIONS}
  --out <file>            where to write the file ("-" for stdout)
  --buy-credits           buy the credits the read needs, burning token, if the balance is short
  --file-key <hex>        the file's key, if it is not in the keyring
${KEYRING_OPTION}
${helpFlag(24)}`;

type GetOptions = ChainFlags & { ref: string; out: string | null; fileKey: Hex | null; keyring: string; buyCredits: boolean };

function refArg(f: Flags): string {
  const v = positional(f, 'cid|deal', 'the CID put printed, or the deal id');
  if (!/^0x[0-9a-f]{64}$/.test(v) && !/^b[a-z2-7]{20,120}$/.test(v))
    throw new UsageError(`<cid|deal> must be a CID (bafk…) or a deal id (0x + 64 hex digits), got ${JSON.stringify(v)}`);
  return v;
}

function parseGet(argv: string[], io: Io): GetOptions {
  const f = parseFlags(
    argv,
    {
      ...CHAIN_SPEC,
      out: { type: 'string' },
      'file-key': { type: 'string' },
      keyring: { type: 'string' },
      'buy-credits': { type: 'boolean' },
    },
    1,
  );
  const fileKey = optional(f, 'file-key');
  if (fileKey !== undefined && !/^0x[0-9a-f]{64}$/.test(fileKey))
    throw new UsageError('--file-key must be 0x followed by 64 lowercase hex digits');
  return {
    ref: refArg(f),
    ...chainFlags(f),
    out: optional(f, 'out') ?? null,
    fileKey: (fileKey as Hex) ?? null,
    keyring: keyringPath(f, io),
    buyCredits: flag(f, 'buy-credits'),
  };
}

async function runGet(o: GetOptions, io: Io): Promise<number> {
  const storage = await loadStorage();
  const c = await client(storage, o);
  const deal = await withClient(o, () => c.resolve(o.ref));
  const key = o.fileKey ?? readKeyring(o.keyring)[deal.dealId]?.key ?? null;
  let cancelled = false;
  const r = await withClient(o, async () => {
    try {
      return await c.get(deal.dealId, { key, buyCredits: o.buyCredits, onProgress: (l) => line(io.stderr, l) });
    } finally {
      // Whatever happened, what the allowance did not pay comes back at its final settlement.
      await c
        .closeAllowance()
        .then(() => (cancelled = true))
        .catch((err: Error) => line(io.stderr, `cancelling the read allowance failed: ${err.message}`));
    }
  });
  line(
    io.stderr,
    `paid ${r.paid} credits for the read (allowance ${r.allowance}${cancelled ? ', cancelled: the rest is refunded when it settles' : ', still open: cancel it to have the rest refunded'})`,
  );
  if (o.out === '-') {
    (io.stdout as { write(chunk: Uint8Array | string): unknown }).write(r.bytes);
    return 0;
  }
  const out = o.out ?? deal.cid;
  const tmp = `${out}.${process.pid}.partial`;
  writeFileSync(tmp, r.bytes);
  renameSync(tmp, out);
  line(io.stderr, `wrote ${r.bytes.length} bytes to ${out} (shards ${r.fetched.join(', ')})`);
  return 0;
}

const LS_USAGE = `usage: groundwork storage ls --oracle <url> --deployment <file> --rpc <url> (--key <hex> | --key-file <file>) [--json]

Lists the consumer's deals: CID, size, state, healthy shards.

options:
${CHAIN_OPTIONS}
${jsonFlag(24)}
${helpFlag(24)}`;

const STATUS_USAGE = `usage: groundwork storage status <cid|deal> --oracle <url> --deployment <file> --rpc <url> (--key <hex> | --key-file <file>) [--json]

Shows where each shard is, when it last passed its proof, and the file's durability estimate.

options:
${CHAIN_OPTIONS}
${jsonFlag(24)}
${helpFlag(24)}`;

const RM_USAGE = `usage: groundwork storage rm <cid|deal> --oracle <url> --deployment <file> --rpc <url> (--key <hex> | --key-file <file>) [--json]

Ends the deal now: nothing accrues from here on; the oracle's final settlement pays the proven
epochs and refunds the rest (or reclaim after the settlement grace).

options:
${CHAIN_OPTIONS}
${jsonFlag(24)}
${helpFlag(24)}`;

type RefOptions = ChainFlags & { ref: string; json: boolean };

function parseRef(argv: string[]): RefOptions {
  const f = parseFlags(argv, CHAIN_SPEC, 1);
  return { ref: refArg(f), ...chainFlags(f), json: flag(f, 'json') };
}

async function runLs(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, CHAIN_SPEC, 0);
  const o = { ...chainFlags(f), json: flag(f, 'json') };
  const c = await client(await loadStorage(), o);
  const deals = await withClient(o, () => c.ls());
  if (o.json) printJson(io, { deals });
  else
    for (const d of deals)
      line(
        io.stdout,
        `${d.cid}  ${String(d.layout.size).padStart(12)}  ${d.state.padEnd(6)}  ${d.healthy}/${d.shards.length}  ${d.dealId}  ${d.name}`,
      );
  return 0;
}

async function runStatus(o: RefOptions, io: Io): Promise<number> {
  const c = await client(await loadStorage(), o);
  const s = await withClient(o, () => c.resolve(o.ref));
  if (o.json) printJson(io, s);
  else for (const l of statusLines(s)) line(io.stdout, l);
  return 0;
}

async function runRm(o: RefOptions, io: Io): Promise<number> {
  const c = await client(await loadStorage(), o);
  const r = await withClient(o, () => c.rm(o.ref));
  if (o.json) printJson(io, { dealId: r.dealId, tx: r.txHash });
  else line(io.stdout, `terminated deal ${r.dealId} (${r.txHash}); the final settlement refunds what was not proven`);
  return 0;
}

const GATEWAY_USAGE = `usage: groundwork storage gateway --oracle <url> --deployment <file> --rpc <url> (--key <hex> | --key-file <file>) [options]

Serves an S3-compatible endpoint over the storage network until Ctrl-C: every object is a file
stored as a deal paid from the key's credits (bought as needed). Works with the AWS SDKs and S3
tools (path-style or virtual-hosted-style, SigV4). Prints the endpoint and the access key.

options:
${CHAIN_OPTIONS}
  --port <n>              the port to listen on (default 9000; 0 picks a free one)
  --host <addr>           the address to listen on (default 127.0.0.1)
  --access-key <id>       the access key clients sign with (default: a new one, printed)
  --secret-key <secret>   its secret (default: a new one, printed)
  --dir <dir>             the catalog and multipart parts (default ~/.groundwork/gateway)
  --duration <d>          how long each object is stored (default 30d)
${jsonFlag(24)}
${helpFlag(24)}`;

async function runGateway(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...CHAIN_SPEC,
    port: { type: 'string' },
    host: { type: 'string' },
    'access-key': { type: 'string' },
    'secret-key': { type: 'string' },
    dir: { type: 'string' },
    duration: { type: 'string' },
  });
  const o = { ...chainFlags(f), json: flag(f, 'json') };
  const accessKey = optional(f, 'access-key') ?? `GW${randomBytes(9).toString('hex').toUpperCase()}`;
  const secretKey = optional(f, 'secret-key') ?? randomBytes(24).toString('base64url');
  if (!/^[A-Za-z0-9]{4,128}$/.test(accessKey)) throw new UsageError('--access-key must be 4 to 128 letters and digits');
  if (secretKey.length < 8) throw new UsageError('--secret-key must be at least 8 characters');
  const duration = parseDuration(optional(f, 'duration') ?? '30d');
  const listenPort = port('port', optional(f, 'port') ?? '9000');
  const dir = optional(f, 'dir') ?? path.join(envOf(io).HOME ?? os.homedir(), '.groundwork', 'gateway');
  const c = await client(await loadStorage(), o);
  const { startGateway } = await import('@groundwork/network-storage/gateway');
  const gw = await startGateway({
    client: c,
    dir,
    accessKey,
    secretKey,
    host: optional(f, 'host'),
    port: listenPort,
    duration,
    log: (l) => line(io.stderr, l),
  });
  if (o.json) printJson(io, { endpoint: gw.url, accessKey, secretKey, dir });
  else {
    line(io.stdout, `S3 gateway at ${gw.url} (path-style, or virtual-hosted as <bucket>.localhost)`);
    line(io.stdout, `  access key  ${accessKey}`);
    line(io.stdout, `  secret key  ${secretKey}`);
    line(io.stdout, `  catalog     ${dir}`);
    line(io.stdout, 'Ctrl-C to stop');
  }
  const { signal, dispose } = stopSignal(io);
  try {
    await aborted(signal);
  } finally {
    dispose();
    await gw.close();
  }
  return 0;
}

export const STORAGE_USAGE = `usage: groundwork storage <command> [options]

commands:
  put        store a file: encrypt, erasure-code, open the deal, upload the shards
  get        read a file back from any k shards
  ls         the consumer's deals
  status     where a file's shards are, their proofs, its durability
  rm         end a deal now; the unproven rest is refunded
  gateway    serve an S3-compatible endpoint over the storage network

Run \`groundwork storage <command> --help\` for its options.`;

export const storageCommands: Command[] = [
  {
    name: 'storage put',
    summary: 'store a file on the storage network',
    usage: PUT_USAGE,
    run: (argv, io) => runPut(parsePut(argv, io), io),
  },
  { name: 'storage get', summary: 'read a stored file back', usage: GET_USAGE, run: (argv, io) => runGet(parseGet(argv, io), io) },
  { name: 'storage ls', summary: "a consumer's stored files", usage: LS_USAGE, run: (argv, io) => runLs(argv, io) },
  {
    name: 'storage status',
    summary: "a stored file's shards, proofs and durability",
    usage: STATUS_USAGE,
    run: (argv, io) => runStatus(parseRef(argv), io),
  },
  { name: 'storage rm', summary: 'end a storage deal', usage: RM_USAGE, run: (argv, io) => runRm(parseRef(argv), io) },
  {
    name: 'storage gateway',
    summary: 'an S3-compatible endpoint over the storage network',
    usage: GATEWAY_USAGE,
    run: (argv, io) => runGateway(argv, io),
  },
];
