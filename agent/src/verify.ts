// `groundwork epoch verify`: fetch an epoch's artifact, recompute everything with the same pure
// code the oracle ran, and compare with the chain. Trusts neither the oracle nor its database.
import { readFileSync } from 'node:fs';
import { createPublicClient, http, type Hex, type PublicClient } from 'viem';
import { EmissionsAbi, RewardDistributorAbi, type Deployment } from '@groundwork/contracts';
import { canonicalJson, computeEpoch, diffResults, sha256Hex, type EpochArtifact, type NetworkPlugins } from '@groundwork/protocol';

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

export async function fetchArtifact(o: { oracleUrl?: string; artifactFile?: string; epoch: number }): Promise<Uint8Array> {
  if (o.artifactFile) return readFileSync(o.artifactFile);
  if (!o.oracleUrl) throw new Error('give an oracle URL or an artifact file');
  const res = await fetch(`${o.oracleUrl}/v1/epochs/${o.epoch}/artifact`);
  if (!res.ok) throw new Error(`oracle answered ${res.status} for epoch ${o.epoch}'s artifact: ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

export async function verifyEpoch(o: VerifyOptions): Promise<VerifyResult> {
  const checks: VerifyCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const client = createPublicClient({ transport: http(o.rpcUrl) }) as PublicClient;
  const a = o.deployment.addresses;

  const bytes = await fetchArtifact(o);
  const hash = sha256Hex(bytes);
  let artifact: EpochArtifact;
  try {
    artifact = JSON.parse(Buffer.from(bytes).toString('utf8')) as EpochArtifact;
  } catch (err) {
    check('artifact parses', false, (err as Error).message);
    return { epoch: o.epoch, pass: false, artifactHash: hash, root: null, checks };
  }
  check(
    'artifact is canonical',
    canonicalJson(artifact) === Buffer.from(bytes).toString('utf8'),
    'its bytes are the canonical encoding of its content',
  );
  check(
    'artifact is for this epoch and deployment',
    artifact.inputs?.epoch === o.epoch &&
      artifact.inputs.chainId === o.deployment.chainId &&
      artifact.inputs.distributor?.toLowerCase() === a.distributor.toLowerCase(),
    `epoch ${artifact.inputs?.epoch}, chain ${artifact.inputs?.chainId}`,
  );

  // 1. Recompute scores, rewards and root from the artifact's inputs.
  try {
    const { result } = computeEpoch(artifact.inputs, o.plugins, { checkSignatures: true });
    const diffs = diffResults(artifact.result, result);
    check(
      'recomputed result matches the artifact',
      diffs.length === 0,
      diffs.length ? diffs.join('\n') : `root ${result.root}, total ${result.total}`,
    );
  } catch (err) {
    check('recomputed result matches the artifact', false, (err as Error).message);
  }

  // 2. The chain: the posted root, total and artifact hash; the budgets Emissions released.
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
      artifact.result.root === null,
      artifact.result.root === null ? 'nobody has earned anything: there is no root to post' : `no RootPosted event for epoch ${o.epoch}`,
    );
  } else {
    check('chain root equals the artifact root', ev.root === artifact.result.root, `chain ${ev.root}, artifact ${artifact.result.root}`);
    check(
      'chain total equals the artifact total',
      ev.total.toString() === artifact.result.total,
      `chain ${ev.total}, artifact ${artifact.result.total}`,
    );
    check('chain artifact hash equals sha256 of the artifact', ev.artifactHash === hash, `chain ${ev.artifactHash}, sha256 ${hash}`);
    check('posted once', posted.length === 1, `${posted.length} RootPosted events for epoch ${o.epoch}`);
  }
  for (const net of artifact.inputs.networks ?? []) {
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

  // 3. The prior cumulative amounts are the previous artifact's result.
  if (o.checkPrior !== false && artifact.inputs.prior?.epoch != null) {
    try {
      const prev = JSON.parse(
        Buffer.from(await fetchArtifact({ ...o, artifactFile: undefined, epoch: artifact.inputs.prior.epoch })).toString('utf8'),
      ) as EpochArtifact;
      check(
        'prior cumulative equals the previous artifact',
        canonicalJson(prev.result.cumulative) === canonicalJson(artifact.inputs.prior.cumulative),
        `previous epoch ${artifact.inputs.prior.epoch}`,
      );
    } catch (err) {
      check('prior cumulative equals the previous artifact', false, (err as Error).message);
    }
  }

  return { epoch: o.epoch, pass: checks.every((c) => c.ok), artifactHash: hash, root: artifact.result?.root ?? null, checks };
}
