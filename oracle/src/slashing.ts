// Slashing on evidence, the oracle's side. A verifier's finding (in the epoch artifact, with the
// keccak256 of its evidence) becomes a slash order `(epoch, deviceId, amount, evidenceHash,
// artifactHash)`: recorded with the epoch, signed by the quorum with the epoch's root, proposed to
// SlashOrders once the root is posted, and executed by this keeper once the order's challenge
// window has passed on chain, unless the guardian vetoed it. Each step is persisted in
// `slash_orders` before the next, and each is checked against the chain before it is sent, so a
// crash or restart at any moment neither loses an order nor sends one twice:
//   - found → signed: the signatures are stored before the epoch's root is signed (closer.ts);
//   - signed → proposed: the chain's `order(id)` is read first; an order already there (proposed
//     before a crash) is recorded, not proposed again; `OrderExists` means the same;
//   - proposed → executed/skipped/vetoed: `order(id)` again; only a Pending order past its
//     `executableAt` (chain time) is executed, and the contract executes an order once.
// An order the chain no longer has (a rollback, a restored snapshot, a reorg) goes back to
// `signed` and is proposed again after its epoch's root is posted again. Vetoed, skipped and
// executed orders are left alone.
import type { Address, Hex, LocalAccount, PublicClient, WalletClient } from 'viem';
import { type Deployment, SlashOrdersAbi, signSlashOrder, slashOrderId } from '@groundwork/contracts';
import type { ArtifactFinding } from '@groundwork/protocol';
import type { Database, Queryable } from './db/database.ts';

export type SlashOrderState = 'found' | 'signed' | 'proposed' | 'executed' | 'skipped' | 'vetoed';

/** An order as the closer records it with its epoch. */
export type NewSlashOrder = {
  orderId: Hex;
  epoch: number;
  network: string;
  device: Hex;
  kind: string;
  amount: string;
  evidenceHash: Hex;
  artifactHash: Hex;
};

export type SlashOrderRow = {
  order_id: Hex;
  epoch: number;
  network: string;
  device: Hex;
  kind: string;
  amount: string;
  evidence_hash: Hex;
  artifact_hash: Hex;
  signatures: Hex | null;
  state: SlashOrderState;
  executable_at: string | null;
  propose_tx: Hex | null;
  execute_tx: Hex | null;
  last_error: string | null;
  updated_at: string;
};

/** What stops an order from going on, for /v1/status (the closer's `slashing.failing`). */
export type SlashFailure = {
  orderId: Hex;
  epoch: number;
  device: Hex;
  step: 'sign' | 'propose' | 'execute' | 'read';
  error: string;
  hint: string;
  /** Unix ms when it first happened. */
  since: number;
};

export type SlashStatus = {
  /** Orders by state. */
  orders: Record<SlashOrderState, number>;
  failing: SlashFailure | null;
};

/** SlashOrders' `Status` enum. */
const CHAIN_STATUS = ['None', 'Pending', 'Vetoed', 'Executed', 'Skipped'] as const;
type ChainOrder = { deviceId: bigint; evidenceHash: Hex; amount: bigint; executableAt: bigint; status: number };

/** The columns of a SlashOrderRow, of the table named `t` (numbers as text, as everywhere). */
const columns = (t = 'slash_orders') =>
  `${t}.order_id, ${t}.epoch, ${t}.network, ${t}.device, ${t}.kind, ${t}.amount::text as amount, ${t}.evidence_hash,
   ${t}.artifact_hash, ${t}.signatures, ${t}.state, ${t}.executable_at::text as executable_at, ${t}.propose_tx, ${t}.execute_tx,
   ${t}.last_error, ${t}.updated_at::text as updated_at`;

/** The slash order of a finding in the artifact `artifactHash` of `epoch`. */
export function slashOrderOf(epoch: number, network: string, finding: ArtifactFinding, artifactHash: Hex): NewSlashOrder {
  return {
    orderId: slashOrderId({
      epoch: BigInt(epoch),
      deviceId: BigInt(finding.device),
      amount: BigInt(finding.amount),
      evidenceHash: finding.evidenceHash,
      artifactHash,
    }),
    epoch,
    network,
    device: finding.device,
    kind: finding.kind,
    amount: finding.amount,
    evidenceHash: finding.evidenceHash,
    artifactHash,
  };
}

/** Records an epoch's orders (in the transaction that records the epoch). The same order twice is one order. */
export async function insertSlashOrders(tx: Queryable, orders: readonly NewSlashOrder[], now: number): Promise<void> {
  for (const o of orders) {
    await tx.query(
      `insert into slash_orders (order_id, epoch, network, device, kind, amount, evidence_hash, artifact_hash, state, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, 'found', $9) on conflict (order_id) do nothing`,
      [o.orderId, o.epoch, o.network, o.device, o.kind, o.amount, o.evidenceHash, o.artifactHash, now],
    );
  }
}

export type SlashKeeperOptions = {
  db: Database;
  deployment: Deployment;
  client: PublicClient;
  wallet: WalletClient;
  signers: LocalAccount[];
  quorum: number;
  /** Chain reads of pending orders at most this often (ms, default 1000). */
  minIntervalMs?: number;
  /** The chain's RPC URL, for the hints of errors. */
  rpcUrl?: string;
  log?: (line: string) => void;
  now?: () => number;
  describeError: (err: unknown) => string;
  revertName: (err: unknown) => string | undefined;
};

export class SlashKeeper {
  private lastRun = Number.NEGATIVE_INFINITY;
  private counts: Record<SlashOrderState, number> = { found: 0, signed: 0, proposed: 0, executed: 0, skipped: 0, vetoed: 0 };
  failing: SlashFailure | null = null;

  constructor(private readonly o: SlashKeeperOptions) {}

  status(): SlashStatus {
    return { orders: { ...this.counts }, failing: this.failing };
  }

  /**
   * Signs the orders of `epoch` not signed yet, with the keys and in the signer order of its root,
   * and stores the signatures (one transaction). The closer calls it before it signs the root.
   */
  async signEpoch(epoch: number): Promise<number> {
    const rows = await this.o.db.query<SlashOrderRow>(`select ${columns()} from slash_orders where epoch = $1 and state = 'found'`, [
      epoch,
    ]);
    if (!rows.length) return 0;
    const address = this.o.deployment.addresses.slashOrders;
    // Without SlashOrders (a deployment file from before it) the orders wait, and the keeper says
    // why in /v1/status; the root, and the providers' pay, do not wait for them.
    if (!address) return 0;
    const signed: { id: Hex; signatures: Hex }[] = [];
    for (const r of rows) signed.push({ id: r.order_id, signatures: await this.sign(address, r) });
    await this.o.db.transaction(async (tx) => {
      for (const s of signed)
        await tx.query(
          "update slash_orders set state = 'signed', signatures = $2, updated_at = $3 where order_id = $1 and state = 'found'",
          [s.id, s.signatures, this.now()],
        );
    });
    return rows.length;
  }

  /**
   * One pass over the orders not done yet: signs those of epochs that have no root to sign with
   * (empty epochs), proposes the signed ones whose root is posted, and reads the proposed ones
   * back, executing those past their window. An order that fails is recorded and passed over;
   * the others go on.
   */
  async run(): Promise<void> {
    // A cadence in wall-clock time, whatever clock `now` stamps rows with.
    if (Date.now() - this.lastRun < (this.o.minIntervalMs ?? 1000)) return;
    this.lastRun = Date.now();
    const open = await this.o.db.query<SlashOrderRow & { epoch_state: string }>(
      `select ${columns('o')}, e.state as epoch_state
         from slash_orders o join epochs e on e.epoch = o.epoch
        where o.state in ('found', 'signed', 'proposed') order by o.epoch, o.order_id`,
    );
    let failure: SlashFailure | null = null;
    const fail = (row: SlashOrderRow, step: SlashFailure['step'], err: unknown) => {
      const error = this.o.describeError(err);
      failure ??= {
        orderId: row.order_id,
        epoch: row.epoch,
        device: row.device,
        step,
        error,
        hint: this.hintFor(err, error),
        since: this.failing?.orderId === row.order_id && this.failing.error === error ? this.failing.since : this.now(),
      };
      return this.recordError(row, `${step}: ${error}`);
    };
    const address = this.o.deployment.addresses.slashOrders;
    let head: bigint | null = null;
    for (const row of open) {
      if (!address) {
        await fail(row, 'propose', new Error('the deployment has no SlashOrders address'));
        continue;
      }
      let step: SlashFailure['step'] = 'read';
      try {
        if (row.state === 'found') {
          // Orders are signed with their epoch's root (closer.ts); these are of an epoch that has
          // no root to sign (empty) or were not signed with it (no SlashOrders address then).
          if (row.epoch_state !== 'signed' && row.epoch_state !== 'posted' && row.epoch_state !== 'empty') continue;
          step = 'sign';
          await this.signEpoch(row.epoch);
        } else if (row.state === 'signed') {
          // After the root: a slash order's artifact hash is then the one the chain has a root for.
          if (row.epoch_state !== 'posted' && row.epoch_state !== 'empty') continue;
          step = 'propose';
          await this.propose(address, row);
        } else {
          head ??= (await this.o.client.getBlock({ blockTag: 'pending' })).timestamp;
          await this.follow(address, row, head, (s) => (step = s));
        }
        if (row.last_error !== null) await this.recordError(row, null);
      } catch (err) {
        await fail(row, step, err);
      }
    }
    if (failure && !sameFailure(failure, this.failing)) {
      const f = failure as SlashFailure;
      this.o.log?.(`slash order ${f.orderId} (epoch ${f.epoch}, device ${f.device}) failed at ${f.step}: ${f.error} — ${f.hint}`);
    } else if (!failure && this.failing) this.o.log?.(`slash orders: going on again (order ${this.failing.orderId} was failing)`);
    this.failing = failure;
    const counts = await this.o.db.query<{ state: SlashOrderState; n: number }>(
      'select state, count(*)::int as n from slash_orders group by state',
    );
    this.counts = { found: 0, signed: 0, proposed: 0, executed: 0, skipped: 0, vetoed: 0 };
    for (const c of counts) if (c.state in this.counts) this.counts[c.state] = c.n;
  }

  private sign(address: Address, r: SlashOrderRow): Promise<Hex> {
    return signSlashOrder(this.o.signers.slice(0, this.o.quorum), this.o.deployment.chainId, address, {
      epoch: BigInt(r.epoch),
      deviceId: BigInt(r.device),
      amount: BigInt(r.amount),
      evidenceHash: r.evidence_hash,
      artifactHash: r.artifact_hash,
    });
  }

  private async readOrder(address: Address, id: Hex): Promise<ChainOrder> {
    const o = (await this.o.client.readContract({
      address,
      abi: SlashOrdersAbi,
      functionName: 'order',
      args: [id],
    })) as unknown as ChainOrder;
    return { ...o, status: Number(o.status), executableAt: BigInt(o.executableAt) };
  }

  private async propose(address: Address, row: SlashOrderRow): Promise<void> {
    const { client, wallet } = this.o;
    const existing = await this.readOrder(address, row.order_id);
    if (existing.status !== 0) {
      // On chain already (proposed before a crash, or by anyone else with the signatures).
      await this.markProposed(row, existing, await this.findTx(address, 'SlashProposed', row.order_id), true);
      return;
    }
    const args = [
      BigInt(row.epoch),
      BigInt(row.device),
      BigInt(row.amount),
      row.evidence_hash,
      row.artifact_hash,
      row.signatures as Hex,
    ] as const;
    let hash: Hex;
    try {
      const { request } = await client.simulateContract({
        account: wallet.account!,
        address,
        abi: SlashOrdersAbi,
        functionName: 'propose',
        args,
        blockTag: 'pending',
      });
      hash = await wallet.writeContract({ ...request, gas: 400_000n });
    } catch (err) {
      if (this.o.revertName(err) !== 'OrderExists') throw err;
      await this.markProposed(
        row,
        await this.readOrder(address, row.order_id),
        await this.findTx(address, 'SlashProposed', row.order_id),
        true,
      );
      return;
    }
    const receipt = await client.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error(`propose of slash order ${row.order_id} reverted in ${hash}`);
    await this.markProposed(row, await this.readOrder(address, row.order_id), hash);
  }

  private async markProposed(row: SlashOrderRow, chain: ChainOrder, tx: Hex | null, found = false): Promise<void> {
    await this.o.db.query(
      "update slash_orders set state = 'proposed', executable_at = $2, propose_tx = $3, updated_at = $4 where order_id = $1",
      [row.order_id, chain.executableAt.toString(), tx, this.now()],
    );
    this.o.log?.(
      `epoch ${row.epoch}: slash order ${row.order_id} ${found ? 'found on chain, recorded as proposed' : 'proposed'} (device ${row.device}, ${row.amount}, evidence ${row.evidence_hash}), executable at ${chain.executableAt}`,
    );
  }

  /** A proposed order: records what the chain says of it, and executes it once its window is over. */
  private async follow(address: Address, row: SlashOrderRow, head: bigint, at: (s: SlashFailure['step']) => void): Promise<void> {
    const chain = await this.readOrder(address, row.order_id);
    const status = CHAIN_STATUS[chain.status] ?? 'None';
    if (status === 'None') {
      await this.setState(row, 'signed', { executable_at: null, propose_tx: null });
      this.o.log?.(`epoch ${row.epoch}: the chain no longer has slash order ${row.order_id}: proposing it again after the epoch's root`);
      return;
    }
    if (status !== 'Pending') return this.settle(address, row, status);
    if (chain.executableAt > head) return;
    at('execute');
    const { client, wallet } = this.o;
    let hash: Hex;
    try {
      const { request } = await client.simulateContract({
        account: wallet.account!,
        address,
        abi: SlashOrdersAbi,
        functionName: 'execute',
        args: [row.order_id],
        blockTag: 'pending',
      });
      hash = await wallet.writeContract({ ...request, gas: 400_000n });
    } catch (err) {
      const name = this.o.revertName(err);
      // Vetoed or executed meanwhile, or the chain's clock is behind the pending block's: read again next pass.
      if (name === 'OrderNotPending' || name === 'ChallengeWindowNotOver') return;
      throw err;
    }
    const receipt = await client.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error(`execute of slash order ${row.order_id} reverted in ${hash}`);
    const after = CHAIN_STATUS[(await this.readOrder(address, row.order_id)).status] ?? 'None';
    if (after === 'Executed' || after === 'Skipped') await this.settle(address, row, after, hash);
  }

  private async settle(address: Address, row: SlashOrderRow, status: 'Vetoed' | 'Executed' | 'Skipped', tx?: Hex): Promise<void> {
    const state: SlashOrderState = status === 'Vetoed' ? 'vetoed' : status === 'Executed' ? 'executed' : 'skipped';
    const executeTx =
      tx ??
      (status === 'Vetoed' ? null : await this.findTx(address, status === 'Executed' ? 'SlashExecuted' : 'SlashSkipped', row.order_id));
    await this.setState(row, state, { execute_tx: executeTx });
    const what =
      status === 'Vetoed' ? 'vetoed by the guardian' : status === 'Executed' ? `executed in ${executeTx}` : 'skipped (no stake left)';
    this.o.log?.(`epoch ${row.epoch}: slash order ${row.order_id} of device ${row.device} ${what}`);
  }

  private async setState(row: SlashOrderRow, state: SlashOrderState, set: Record<string, string | null>): Promise<void> {
    const keys = Object.keys(set);
    await this.o.db.query(
      `update slash_orders set state = $2, updated_at = $3${keys.map((k, i) => `, ${k} = $${i + 4}`).join('')} where order_id = $1`,
      [row.order_id, state, this.now(), ...keys.map((k) => set[k])],
    );
  }

  private async findTx(address: Address, eventName: 'SlashProposed' | 'SlashExecuted' | 'SlashSkipped', id: Hex): Promise<Hex | null> {
    const logs = await this.o.client.getContractEvents({
      address,
      abi: SlashOrdersAbi,
      eventName,
      args: { orderId: id },
      fromBlock: this.o.deployment.startBlock,
    });
    return logs[0]?.transactionHash ?? null;
  }

  private async recordError(row: SlashOrderRow, error: string | null): Promise<void> {
    if (row.last_error === error) return;
    await this.o.db.query('update slash_orders set last_error = $2 where order_id = $1', [row.order_id, error]);
  }

  private hintFor(err: unknown, message: string): string {
    const where = this.o.rpcUrl ? ` at ${this.o.rpcUrl}` : '';
    if (/fetch failed|ECONNREFUSED|ECONNRESET|socket hang up|HTTP request failed|timed out/i.test(message))
      return `the chain${where} does not answer: start it or point --rpc at it; the keeper retries on its own`;
    if (/no SlashOrders address/.test(message))
      return 'the deployment file is from before slashing: deploy SlashOrders (deploySystem does) and add addresses.slashOrders';
    switch (this.o.revertName(err)) {
      case 'InvalidSignature':
      case 'NotOracle':
      case 'QuorumNotMet':
      case 'SignersNotSorted':
        return "SlashOrders refused the quorum's signatures: check that this oracle's signer keys are the distributor's oracle set";
      case 'UnknownDevice':
        return 'the registry has no such device: check that --rpc is the deployment’s chain';
      case 'AccessControlUnauthorizedAccount':
        return "SlashOrders may not slash: governance must grant it the registry's SLASHER_ROLE";
    }
    return 'the keeper retries every second; other orders go on meanwhile';
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

function sameFailure(a: SlashFailure | null, b: SlashFailure | null): boolean {
  return a?.orderId === b?.orderId && a?.step === b?.step && a?.error === b?.error;
}
