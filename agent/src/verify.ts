// `groundwork epoch verify`: fetch an epoch's artifact, recompute everything with the same pure
// code the oracle ran, and compare with the chain. Trusts neither the oracle nor its database.
//
// The artifact is read as a stream (to a temporary file when it comes from the oracle): it is
// checked against the artifact schema row by row into tables, recomputed, and the recomputed
// artifact is compared with its bytes section by section, so an artifact of any size is verified
// in bounded memory.
import { closeSync, createReadStream, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPublicClient, http, type Hex, type PublicClient } from 'viem';
import { EmissionsAbi, RewardDistributorAbi, SlashOrdersAbi, slashOrderId, type Deployment } from '@groundwork/contracts';
import {
  AccountAmounts,
  ArtifactError,
  type ArtifactRead,
  compareArtifact,
  computeEpochTables,
  deviceIdHex,
  evidenceHash,
  type NetworkPlugins,
  readArtifact,
} from '@groundwork/protocol';

export type VerifyCheck = { name: string; ok: boolean; detail: string };
export type VerifyResult = { epoch: number; pass: boolean; artifactHash: Hex | null; root: Hex | null; checks: VerifyCheck[] };

export type VerifyOptions = {
  epoch: number;
  deployment: Deployment;
  rpcUrl: string;
  plugins: NetworkPlugins;
  /** Where to fetch the artifact: the oracle's base URL... */
  oracleUrl?: string;
  /** ...or a local file. */
  artifactFile?: string;
  /** The previous epoch's artifact is fetched too, to check the prior cumulative amounts. */
  checkPrior?: boolean;
};

/** Downloads epoch `epoch`'s artifact from the oracle into `file`, streamed. */
export async function downloadArtifact(oracleUrl: string, epoch: number, file: string): Promise<void> {
  const res = await fetch(`${oracleUrl}/v1/epochs/${epoch}/artifact`);
  if (!res.ok || !res.body) throw new Error(`oracle answered ${res.status} for epoch ${epoch}'s artifact: ${await res.text()}`);
  const out = await open(file, 'w');
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) await out.write(chunk);
  } finally {
    await out.close();
  }
}

/** The artifact as a local file: the one given, or a download into a temporary directory (removed by `done`). */
async function localArtifact(o: { oracleUrl?: string; artifactFile?: string; epoch: number }): Promise<{ file: string; done: () => void }> {
  if (o.artifactFile) return { file: o.artifactFile, done: () => {} };
  if (!o.oracleUrl) throw new Error('give an oracle URL or an artifact file');
  const dir = mkdtempSync(path.join(tmpdir(), 'groundwork-verify-'));
  const done = () => rmSync(dir, { recursive: true, force: true });
  try {
    const file = path.join(dir, `epoch-${o.epoch}.json`);
    await downloadArtifact(o.oracleUrl, o.epoch, file);
    return { file, done };
  } catch (err) {
    done();
    throw err;
  }
}

/** A synchronous reader of `file` at any offset, for comparing it with recomputed bytes. */
function fileReader(file: string): { readAt: (offset: number, length: number) => Uint8Array; close: () => void } {
  const fd = openSync(file, 'r');
  return {
    readAt(offset, length) {
      const buf = Buffer.allocUnsafe(length);
      const n = readSync(fd, buf, 0, length, offset);
      return buf.subarray(0, n);
    },
    close: () => closeSync(fd),
  };
}

export async function verifyEpoch(o: VerifyOptions): Promise<VerifyResult> {
  const checks: VerifyCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const client = createPublicClient({ transport: http(o.rpcUrl) }) as PublicClient;
  const a = o.deployment.addresses;

  const local = await localArtifact(o);
  let read: ArtifactRead;
  try {
    try {
      read = await readArtifact(createReadStream(local.file), o.plugins);
    } catch (err) {
      if (!(err instanceof ArtifactError)) throw err;
      check('artifact parses and matches the artifact schema', false, err.message);
      return { epoch: o.epoch, pass: false, artifactHash: null, root: null, checks };
    }
    const { tables, hash, result } = read;
    check('artifact parses and matches the artifact schema', true, `${read.size} bytes, ${tables.format}`);
    check(
      'artifact is for this epoch and deployment',
      tables.epoch === o.epoch &&
        tables.chainId === o.deployment.chainId &&
        tables.distributor.toLowerCase() === a.distributor.toLowerCase(),
      `epoch ${tables.epoch}, chain ${tables.chainId}`,
    );

    // 1. Recompute scores, rewards and root from the artifact's inputs; compare byte for byte.
    const reader = fileReader(local.file);
    try {
      const outcome = computeEpochTables(tables, o.plugins, { checkSignatures: true });
      const cmp = compareArtifact(reader.readAt, read.size, read.resultOffset, tables, outcome);
      check(
        'artifact is canonical',
        cmp.inputs.equal,
        cmp.inputs.equal ? 'its bytes are the canonical encoding of its content' : cmp.inputs.differences.join('\n'),
      );
      check(
        'recomputed result matches the artifact',
        cmp.result.equal,
        cmp.result.equal ? `root ${outcome.root}, total ${outcome.total}` : cmp.result.differences.join('\n'),
      );
    } catch (err) {
      check('recomputed result matches the artifact', false, (err as Error).message);
    } finally {
      reader.close();
    }

    // 2. The chain: the posted root, total and artifact hash; the budgets Emissions released.
    // A chain that cannot be read is a failed check naming the RPC, not a thrown error: the
    // artifact's own checks above still stand and are shown.
    try {
      const posted = await client.getContractEvents({
        address: a.distributor,
        abi: RewardDistributorAbi,
        eventName: 'RootPosted',
        args: { epoch: BigInt(o.epoch) },
        fromBlock: o.deployment.startBlock,
      });
      const ev = posted[0]?.args as { root: Hex; total: bigint; artifactHash: Hex } | undefined;
      if (!ev) {
        check(
          'root posted on chain',
          result.root === null,
          result.root === null ? 'nobody has earned anything: there is no root to post' : `no RootPosted event for epoch ${o.epoch}`,
        );
      } else {
        check('chain root equals the artifact root', ev.root === result.root, `chain ${ev.root}, artifact ${result.root}`);
        check('chain total equals the artifact total', ev.total.toString() === result.total, `chain ${ev.total}, artifact ${result.total}`);
        check('chain artifact hash equals sha256 of the artifact', ev.artifactHash === hash, `chain ${ev.artifactHash}, sha256 ${hash}`);
        check('posted once', posted.length === 1, `${posted.length} RootPosted events for epoch ${o.epoch}`);
      }
      for (const net of tables.networks) {
        const budget = (await client.readContract({
          address: a.emissions,
          abi: EmissionsAbi,
          functionName: 'networkBudget',
          args: [BigInt(o.epoch), net.id],
        })) as bigint;
        check(
          `budget of ${net.kind} equals Emissions.networkBudget`,
          budget.toString() === net.budget,
          `chain ${budget}, artifact ${net.budget}`,
        );
      }
    } catch (err) {
      check('chain readable', false, `${o.rpcUrl}: ${(err as Error).message.split('\n')[0]}`);
    }

    // 3. Slashing on evidence: each finding's evidence hash is its evidence's, each finding has
    // its slash order on chain (same evidence hash, this artifact's hash), and the chain has no
    // order for this epoch that the artifact has no finding for.
    await checkSlashOrders(o, client, read, check);

    // 4. The prior cumulative amounts are the previous artifact's result.
    if (o.checkPrior !== false && tables.prior.epoch !== null && o.oracleUrl) {
      try {
        const previous = await previousCumulative(o, tables.prior.epoch);
        const mine = tables.prior.cumulative;
        const first = firstDifference(previous, mine);
        check(
          'prior cumulative equals the previous artifact',
          first === null,
          first === null
            ? `previous epoch ${tables.prior.epoch}, ${mine.length} accounts`
            : `previous epoch ${tables.prior.epoch}: ${first}`,
        );
      } catch (err) {
        check('prior cumulative equals the previous artifact', false, (err as Error).message);
      }
    }
    return { epoch: o.epoch, pass: checks.every((c) => c.ok), artifactHash: hash, root: result.root, checks };
  } finally {
    local.done();
  }
}

const ORDER_STATUS = ['None', 'Pending', 'Vetoed', 'Executed', 'Skipped'] as const;

async function checkSlashOrders(
  o: VerifyOptions,
  client: PublicClient,
  read: ArtifactRead,
  check: (name: string, ok: boolean, detail: string) => void,
): Promise<void> {
  const findings = read.result.networks.flatMap((n, k) =>
    (n.findings ?? []).map((f, i) => ({ ...f, where: `result.networks[${k}].findings[${i}]`, network: n.kind })),
  );
  if (findings.length) {
    // The schema refuses a mismatch already; said here so that the check shows in the report.
    const wrong = findings.filter((f) => evidenceHash(f.evidence) !== f.evidenceHash);
    check(
      "each finding's evidence hash is keccak256 of its evidence",
      wrong.length === 0,
      wrong.length === 0
        ? `${findings.length} findings`
        : wrong.map((f) => `${f.where}: evidenceHash ${f.evidenceHash}, the evidence hashes to ${evidenceHash(f.evidence)}`).join('\n'),
    );
  }
  const address = o.deployment.addresses.slashOrders;
  if (!address) {
    if (findings.length)
      check('slash orders on chain', false, `the artifact has ${findings.length} findings but the deployment has no SlashOrders address`);
    return;
  }
  try {
    const events = await client.getContractEvents({
      address,
      abi: SlashOrdersAbi,
      eventName: 'SlashProposed',
      args: { epoch: BigInt(o.epoch) },
      fromBlock: o.deployment.startBlock,
    });
    type Proposed = { orderId: Hex; deviceId: bigint; amount: bigint; evidenceHash: Hex; artifactHash: Hex };
    const proposed = events.map((e) => e.args as Proposed);
    const matched = new Set<Hex>();
    for (const f of findings) {
      const name = `${f.where} (${f.kind}, device ${f.device}) has its slash order on chain`;
      const id = slashOrderId({
        epoch: BigInt(o.epoch),
        deviceId: BigInt(f.device),
        amount: BigInt(f.amount),
        evidenceHash: f.evidenceHash,
        artifactHash: read.hash,
      });
      const ev = proposed.find((p) => p.orderId === id);
      if (!ev) {
        const others = proposed.filter((p) => p.deviceId === BigInt(f.device));
        check(
          name,
          false,
          others.length
            ? `no order with evidence hash ${f.evidenceHash}, amount ${f.amount} and artifact hash ${read.hash}; the chain's orders for this device in epoch ${o.epoch}: ${others.map((p) => `evidence ${p.evidenceHash}, amount ${p.amount}, artifact ${p.artifactHash}`).join('; ')}`
            : `no SlashProposed event for device ${f.device} in epoch ${o.epoch}: the oracle has not proposed it (yet)`,
        );
        continue;
      }
      matched.add(id);
      const order = (await client.readContract({ address, abi: SlashOrdersAbi, functionName: 'order', args: [id] })) as {
        evidenceHash: Hex;
        status: number;
      };
      const status = ORDER_STATUS[Number(order.status)] ?? `status ${order.status}`;
      const ok =
        ev.evidenceHash === f.evidenceHash && ev.artifactHash === read.hash && order.evidenceHash === f.evidenceHash && status !== 'None';
      check(name, ok, `order ${id}: ${status}, evidence hash ${order.evidenceHash}, artifact hash ${ev.artifactHash}, amount ${ev.amount}`);
    }
    const stray = proposed.filter((p) => !matched.has(p.orderId));
    check(
      'every slash order of this epoch on chain has a finding in the artifact',
      stray.length === 0,
      stray.length === 0
        ? `${proposed.length} orders, ${findings.length} findings`
        : stray
            .map(
              (p) =>
                `order ${p.orderId} slashes device ${deviceIdHex(p.deviceId)} by ${p.amount} with evidence hash ${p.evidenceHash} in artifact ${p.artifactHash}: this artifact has no such finding`,
            )
            .join('\n'),
    );
  } catch (err) {
    check('slash orders readable', false, `${o.rpcUrl}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** The previous epoch's `result.cumulative`, read from its artifact (schema-checked, streamed). */
async function previousCumulative(o: VerifyOptions, epoch: number): Promise<AccountAmounts> {
  const local = await localArtifact({ oracleUrl: o.oracleUrl, epoch });
  try {
    const out = new AccountAmounts();
    await readArtifact(createReadStream(local.file), o.plugins, {
      resultRows: (pattern, _path, row) => {
        if (pattern === 'result.cumulative') out.push(row as { account: string; amount: string });
      },
    });
    return out;
  } finally {
    local.done();
  }
}

function firstDifference(expected: AccountAmounts, actual: AccountAmounts): string | null {
  const n = Math.min(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    if (!expected.accounts.equals(i, actual.accounts, i) || expected.amounts[i] !== actual.amounts[i]) {
      return `leaf ${i}: previous artifact ${expected.accounts.get(i)} ${expected.amounts[i]}, this artifact's prior ${actual.accounts.get(i)} ${actual.amounts[i]}`;
    }
  }
  return expected.length === actual.length
    ? null
    : `the previous artifact has ${expected.length} leaves, this artifact's prior ${actual.length}`;
}
