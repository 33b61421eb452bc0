// The epoch artifact's schema: what `groundwork epoch verify`, co-signers and the oracle's API
// accept as an artifact. Strict everywhere (an unknown key is an error, not ignored), so an
// artifact means exactly one thing. Large arrays are checked row by row as they stream past
// (artifact-reader.ts), with the row schemas below; the rest with `artifactEnvelopeSchema`.
//
// Format `groundwork/epoch-artifact@1`: canonical JSON (encoding.ts) of `{ inputs, result }`.
import { z } from 'zod';
import { canonicalJson, evidenceHash } from './encoding.ts';
import { addressSchema, deviceIdSchema, epochSchema, hex32, networkKindSchema, reportSchema, uintString } from './schemas.ts';

/** The artifact format this code reads and writes; a change to the layout gets a new version. */
export const ARTIFACT_FORMAT = 'groundwork/epoch-artifact@1';

const lowerAddress = z.string().regex(/^0x[0-9a-f]{40}$/, 'must be 0x and 40 lowercase hex digits');
const unixTime = z
  .number()
  .int()
  .nonnegative()
  .max(2 ** 53 - 1);

/** A registered device as the chain had it at the epoch's snapshot block. */
export const deviceSnapshotSchema = z
  .object({
    device: deviceIdSchema,
    owner: addressSchema,
    network: networkKindSchema,
    keyX: hex32,
    keyY: hex32,
    stake: uintString,
    registeredAt: unixTime,
  })
  .strict();

/** A report ingest accepted, with the oracle's receive time (unix ms). */
export const acceptedReportSchema = z.object({ report: reportSchema, digest: hex32, receivedAt: unixTime }).strict();

/** Why an input earned nothing; `digest` is null for what was never reported (an unanswered challenge). */
export const rejectionSchema = z
  .object({ device: deviceIdSchema.nullable(), digest: hex32.nullable(), reason: z.string().min(1).max(64), detail: z.string().max(4096) })
  .strict();

export const usageSchema = z.object({ device: deviceIdSchema, credits: uintString }).strict();

/** A cumulative amount: the reward tree's leaf. Accounts are lowercase, as the oracle writes them. */
export const accountAmountSchema = z.object({ account: lowerAddress, amount: uintString }).strict();

export const networkInputsSchema = z
  .object({
    kind: networkKindSchema,
    id: hex32,
    budget: uintString,
    /** Checked by the network's plug-in. */
    parameters: z.unknown(),
    devices: z.array(deviceSnapshotSchema),
    usage: z.array(usageSchema),
    /** Rows checked by the network's plug-in. */
    oracleInputs: z.array(z.unknown()),
    reports: z.array(acceptedReportSchema),
    ingestRejections: z.array(rejectionSchema),
  })
  .strict();

export const epochInputsSchema = z
  .object({
    format: z.literal(ARTIFACT_FORMAT),
    chainId: z.number().int().positive(),
    registry: addressSchema,
    distributor: addressSchema,
    epoch: epochSchema,
    start: unixTime,
    end: unixTime,
    snapshotBlock: uintString,
    networks: z.array(networkInputsSchema),
    prior: z
      .object({
        epoch: epochSchema.nullable(),
        root: hex32.nullable(),
        total: uintString,
        cumulative: z.array(accountAmountSchema),
      })
      .strict(),
  })
  .strict();

export const scoreSchema = z
  .object({ device: deviceIdSchema, score: uintString, detail: z.record(z.string(), z.union([z.number().int(), z.string()])) })
  .strict();

export const deviceRewardSchema = z
  .object({
    network: networkKindSchema,
    device: deviceIdSchema,
    owner: lowerAddress,
    proof: uintString,
    usage: uintString,
    total: uintString,
  })
  .strict();

/** A slash order holds its amount as a uint128. */
const MAX_SLASH_AMOUNT = 2n ** 128n - 1n;
/** Evidence is a finding's proof, not a data set: at most this many bytes of canonical JSON. */
export const MAX_EVIDENCE_BYTES = 1 << 20;

/**
 * A fraud finding as the verifier returns it (network.ts `Finding`): checked by the epoch close
 * before its evidence is hashed, so a verifier's mistake is an error naming the field, not a
 * slash order that the chain refuses.
 */
export const verifierFindingSchema = z
  .object({
    device: deviceIdSchema,
    kind: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,63}$/, 'must be 1-64 of a-z, 0-9, "." and "-", starting with a letter or digit'),
    amount: uintString.refine((v) => v !== '0' && BigInt(v) <= MAX_SLASH_AMOUNT, 'must be a positive amount below 2^128'),
    evidence: z.unknown(),
  })
  .strict()
  .superRefine((f, ctx) => {
    let text: string;
    try {
      text = canonicalJson(f.evidence);
    } catch (err) {
      return void ctx.addIssue({ code: 'custom', path: ['evidence'], message: `cannot be encoded: ${(err as Error).message}` });
    }
    if (Buffer.byteLength(text, 'utf8') > MAX_EVIDENCE_BYTES)
      ctx.addIssue({ code: 'custom', path: ['evidence'], message: `is more than ${MAX_EVIDENCE_BYTES} bytes of canonical JSON` });
  });

/**
 * A finding as the artifact has it: the verifier's, with `evidenceHash` = keccak256 of the
 * evidence's canonical JSON (encoding.ts `evidenceHash`), the hash its slash order carries on
 * chain. A hash that is not the evidence's is refused here, so a reader never sees a finding
 * whose on-chain hash points at other evidence than the artifact's.
 */
export const findingSchema = z
  .object({
    device: deviceIdSchema,
    kind: z.string(),
    amount: z.string(),
    evidence: z.unknown(),
    evidenceHash: hex32,
  })
  .strict()
  .superRefine((f, ctx) => {
    const { evidenceHash: hash, ...finding } = f;
    const checked = verifierFindingSchema.safeParse(finding);
    if (!checked.success) {
      for (const issue of checked.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      return;
    }
    const expected = evidenceHash(f.evidence);
    if (hash !== expected)
      ctx.addIssue({ code: 'custom', path: ['evidenceHash'], message: `is not keccak256 of the evidence's canonical JSON (${expected})` });
  });

export const networkResultSchema = z
  .object({
    kind: networkKindSchema,
    scores: z.array(scoreSchema),
    /** Present only when the network has findings, so artifacts without any keep their bytes. */
    findings: z.array(findingSchema).min(1).optional(),
    rejections: z.array(rejectionSchema),
    budget: uintString,
    usagePool: uintString,
    proofPool: uintString,
    paid: uintString,
    undistributed: uintString,
  })
  .strict();

export const epochResultSchema = z
  .object({
    networks: z.array(networkResultSchema),
    devices: z.array(deviceRewardSchema),
    owners: z.array(accountAmountSchema),
    cumulative: z.array(accountAmountSchema),
    total: uintString,
    paid: uintString,
    undistributed: uintString,
    root: hex32.nullable(),
  })
  .strict();

export const artifactSchema = z.object({ inputs: epochInputsSchema, result: epochResultSchema }).strict();

/**
 * The arrays a reader streams row by row instead of holding the document: by path (`*` is any
 * index), the schema of each row. A row of oracle inputs is checked by the network's plug-in.
 */
export const STREAMED_ROWS: Readonly<Record<string, z.ZodType | 'plug-in'>> = {
  'inputs.networks.*.devices': deviceSnapshotSchema,
  'inputs.networks.*.usage': usageSchema,
  'inputs.networks.*.oracleInputs': 'plug-in',
  'inputs.networks.*.reports': acceptedReportSchema,
  'inputs.networks.*.ingestRejections': rejectionSchema,
  'inputs.prior.cumulative': accountAmountSchema,
  'result.networks.*.scores': scoreSchema,
  'result.networks.*.rejections': rejectionSchema,
  'result.devices': deviceRewardSchema,
  'result.owners': accountAmountSchema,
  'result.cumulative': accountAmountSchema,
};

export type DeviceSnapshotRow = z.infer<typeof deviceSnapshotSchema>;
export type AcceptedReportRow = z.infer<typeof acceptedReportSchema>;
export type RejectionRow = z.infer<typeof rejectionSchema>;
export type FindingRow = z.infer<typeof findingSchema>;
export type ArtifactDocument = z.infer<typeof artifactSchema>;
