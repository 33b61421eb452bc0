// Reads an epoch artifact as a stream of byte chunks into tables (epoch-tables.ts), checking it
// against the artifact schema (artifact-schema.ts) row by row as it passes, and hashing it. Memory
// is what the tables take, never the document: a million-device artifact is gigabytes.
//
// The result section is not needed to recompute an epoch (`epoch verify` writes its own result and
// compares bytes); it is skipped, or handed to a visitor row by row, schema-checked.
import { createHash } from 'node:crypto';
import type { Hex } from 'viem';
import type { z } from 'zod';
import {
  accountAmountSchema,
  acceptedReportSchema,
  artifactSchema,
  deviceSnapshotSchema,
  rejectionSchema,
  STREAMED_ROWS,
  usageSchema,
} from './artifact-schema.ts';
import { compactTables, envelopeOf, type EpochTables, type NetworkTables } from './epoch-close.ts';
import { AccountAmounts, DeviceTable, RejectionTable, ReportTable, type RowSink, UsageRows } from './epoch-tables.ts';
import { formatPath, JsonSplitError, JsonSplitter } from './json-splitter.ts';
import type { NetworkPlugins } from './network.ts';
import { describeZodError } from './schemas.ts';

/** The artifact cannot be read: not JSON, cut off, or not what the schema allows. The message says where. */
export class ArtifactError extends Error {
  override name = 'ArtifactError';
}

/** A row of the result section, checked by its schema: its pattern (`result.devices`), its path and the row. */
export type ResultRowVisitor = (pattern: string, path: readonly (string | number)[], row: unknown) => void;

export type ReadArtifactOptions = {
  /**
   * What to do with the result section's rows: skip them (the default; they are still scanned, so a
   * cut-off or broken document is still an error) or hand each, checked, to a visitor.
   */
  resultRows?: ResultRowVisitor;
  /** Only visit result rows whose bytes contain this text (a device id, say): the others are not parsed. */
  resultFilter?: string;
  /** Skip the input rows (for readers of the result only): the tables come back empty. */
  skipInputRows?: boolean;
};

export type ArtifactRead = {
  tables: EpochTables;
  /** sha256 of the bytes read: what the quorum signs as `artifactHash`. */
  hash: Hex;
  size: number;
  /** Byte offset where the `result` value starts. */
  resultOffset: number;
  /** The result's scalars (root, total, paid, undistributed) and each network's, as the envelope has them. */
  result: z.infer<typeof artifactSchema>['result'];
};

type Holder = {
  devices: DeviceTable;
  usage: UsageRows;
  reports: ReportTable;
  ingestRejections: RejectionTable;
  kind?: string;
  oracleInputs?: RowSink<unknown>;
};

const patternOf = (path: readonly (string | number)[]) => path.map((p) => (typeof p === 'number' ? '*' : p)).join('.');

function parseRow(schema: z.ZodType, bytes: Uint8Array, path: readonly (string | number)[]): unknown {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new ArtifactError(`${formatPath(path)}: not JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ArtifactError(`${formatPath(path)}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/**
 * Reads an artifact into tables.
 *
 * @example
 * const { tables, hash } = await readArtifact(createReadStream(file), { uptime: uptimeNetwork });
 */
export async function readArtifact(
  source: AsyncIterable<Uint8Array>,
  plugins: NetworkPlugins,
  options: ReadArtifactOptions = {},
): Promise<ArtifactRead> {
  const sha = createHash('sha256');
  const holders: Holder[] = [];
  const cumulative = new AccountAmounts();
  let resultOffset = -1;
  let size = 0;
  const filter = options.resultFilter === undefined ? null : Buffer.from(options.resultFilter, 'utf8');

  const holder = (k: unknown): Holder => {
    const i = Number(k);
    holders[i] ??= {
      devices: new DeviceTable(),
      usage: new UsageRows(),
      reports: new ReportTable(),
      ingestRejections: new RejectionTable(),
    };
    return holders[i]!;
  };
  const push = <T>(table: RowSink<T>, row: unknown, path: readonly (string | number)[]) => {
    try {
      table.push(row as T);
    } catch (err) {
      throw new ArtifactError(`${formatPath(path)}: ${(err as Error).message}`);
    }
  };

  const splitter = new JsonSplitter({
    streamed: (path) => patternOf(path) in STREAMED_ROWS,
    key: (path, offset) => {
      if (path.length === 1 && path[0] === 'result') resultOffset = offset;
    },
    scalar: (path, text) => {
      // The plug-in that reads a network's oracle inputs is known from its kind, which the
      // canonical order puts before them.
      if (path.length === 4 && path[0] === 'inputs' && path[1] === 'networks' && path[3] === 'kind') {
        const h = holder(path[2]);
        const kind = JSON.parse(text) as unknown;
        const plugin = typeof kind === 'string' ? plugins[kind] : undefined;
        if (!plugin) throw new ArtifactError(`${formatPath(path)}: no plug-in for network ${text}`);
        h.kind = kind as string;
        h.oracleInputs = plugin.oracleInputs.table();
      }
    },
    row: (path, bytes) => {
      const pattern = patternOf(path.slice(0, -1)); // the array's pattern: the row's path ends in its index
      if (path[0] === 'result') {
        if (!options.resultRows) return;
        if (filter && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(filter) < 0) return;
        options.resultRows(pattern, path, parseRow(STREAMED_ROWS[pattern] as z.ZodType, bytes, path));
        return;
      }
      if (options.skipInputRows) return;
      switch (pattern) {
        case 'inputs.networks.*.devices':
          return push(holder(path[2]).devices, parseRow(deviceSnapshotSchema, bytes, path), path);
        case 'inputs.networks.*.usage':
          return push(holder(path[2]).usage, parseRow(usageSchema, bytes, path), path);
        case 'inputs.networks.*.reports':
          return push(holder(path[2]).reports, parseRow(acceptedReportSchema, bytes, path), path);
        case 'inputs.networks.*.ingestRejections':
          return push(holder(path[2]).ingestRejections, parseRow(rejectionSchema, bytes, path), path);
        case 'inputs.networks.*.oracleInputs': {
          const h = holder(path[2]);
          if (!h.oracleInputs)
            throw new ArtifactError(`${formatPath(path)}: oracle inputs before the network's kind (not the canonical order)`);
          return push(h.oracleInputs, parseRow(plugins[h.kind!]!.oracleInputs.row, bytes, path), path);
        }
        case 'inputs.prior.cumulative':
          return push(cumulative, parseRow(accountAmountSchema, bytes, path), path);
      }
    },
  });

  let envelopeText: string;
  try {
    for await (const chunk of source) {
      sha.update(chunk);
      size += chunk.length;
      splitter.push(chunk);
    }
    envelopeText = splitter.end();
  } catch (err) {
    if (err instanceof JsonSplitError) throw new ArtifactError(err.message);
    throw err;
  }
  let envelope: unknown;
  try {
    envelope = JSON.parse(envelopeText);
  } catch (err) {
    throw new ArtifactError(`not JSON: ${(err as Error).message}`);
  }
  const parsed = artifactSchema.safeParse(envelope);
  if (!parsed.success) throw new ArtifactError(describeZodError(parsed.error));
  const { inputs, result } = parsed.data;
  if (holders.length > inputs.networks.length)
    throw new ArtifactError(`inputs.networks: rows for network ${holders.length - 1} of ${inputs.networks.length}`);
  const networks: NetworkTables[] = inputs.networks.map((net, k) => {
    const h = holder(k);
    if (h.kind === undefined) {
      const plugin = plugins[net.kind];
      if (!plugin) throw new ArtifactError(`inputs.networks[${k}].kind: no plug-in for network "${net.kind}"`);
      h.kind = net.kind;
      h.oracleInputs = plugin.oracleInputs.table();
    }
    return {
      kind: net.kind,
      id: net.id,
      budget: net.budget,
      parameters: net.parameters,
      devices: h.devices,
      usage: h.usage,
      oracleInputs: h.oracleInputs!,
      reports: h.reports,
      ingestRejections: h.ingestRejections,
    };
  });
  const tables: EpochTables = { ...envelopeOf(inputs, cumulative), networks };
  compactTables(tables);
  return { tables, hash: `0x${sha.digest('hex')}`, size, resultOffset, result };
}
