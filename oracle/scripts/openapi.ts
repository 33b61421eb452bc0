/**
 * Builds the oracle's OpenAPI 3.1 document and writes oracle/openapi.json (served at /openapi.json).
 *
 *   node --import tsx oracle/scripts/openapi.ts           # (re)write oracle/openapi.json
 *   node --import tsx oracle/scripts/openapi.ts --check   # exit 1 if oracle/openapi.json is stale
 *
 * The message schemas (Report, batch, Challenge, WebSocket messages, each network's report bodies)
 * are generated from the zod validators in @groundwork/protocol and the network plug-ins with
 * zod 4's `z.toJSONSchema(..., { io: 'input' })`, so the document describes exactly what ingest
 * accepts. Response shapes are written out here; oracle/test/openapi.test.ts checks them against a
 * running oracle and checks that every route in oracle/src/api.ts has a path here and vice versa.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import {
  LIMITS,
  addressSchema,
  batchSchema,
  challengeSchema,
  deviceMessageSchema,
  domainSchema,
  hex32,
  reportSchema,
  serverMessageSchema,
} from '@groundwork/protocol';
import { NETWORK_PLUGINS } from '../src/oracle.ts';
import { MAX_REJECTIONS_PER_DEVICE_EPOCH } from '../src/ingest.ts';

const SLASH_ORDER_STATES = ['found', 'signed', 'proposed', 'executed', 'skipped', 'vetoed'];

export const OPENAPI_PATH = fileURLToPath(new URL('../openapi.json', import.meta.url));

type Json = Record<string, any>;

/** JSON Schema (2020-12, what OpenAPI 3.1 uses) of what a zod schema accepts. */
export function jsonSchemaOf(schema: z.ZodType): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string) => ({ description, content: { 'application/json': { schema } } });
const ERROR = ref('Error');

/** An `{ error, detail }` reply; `reasons` are the `error` values the status is used for. */
function errorResponse(description: string, reasons: string[], schema: Json = ERROR) {
  return json(schema, `${description} (error: ${reasons.map((r) => `\`${r}\``).join(', ')})`);
}

const R405 = errorResponse('The path exists but takes another method', ['method-not-allowed']);
const R400_QUERY = errorResponse('A query parameter is out of range or malformed', ['bad-query']);
const R404 = (what: string) => errorResponse(`No ${what}`, ['not-found']);
const DEFAULT = json(ERROR, 'Unexpected failure (500, error `internal`); the body has the same shape');

const INGEST_ERRORS = (schema: Json) => ({
  '400': errorResponse(
    'The body is not JSON or does not match the schema, or the network, type or report body is unknown or invalid',
    ['malformed', 'unknown-network', 'unknown-type', 'bad-body'],
    schema,
  ),
  '401': errorResponse(
    "The signature does not verify against the device's registered key (high-s signatures are refused too)",
    ['bad-signature'],
    schema,
  ),
  '403': errorResponse(
    'The report is for another deployment, the device is not registered, or it is registered for another network',
    ['wrong-domain', 'unregistered-device', 'wrong-network'],
    schema,
  ),
  '409': errorResponse(
    'The epoch has not started, has closed (or is closing), or another report in the batch was refused',
    ['future-epoch', 'epoch-closed', 'batch-refused'],
    schema,
  ),
  '413': errorResponse(
    `The request body is over ${LIMITS.maxRequestBytes} bytes, or a report body over ${LIMITS.maxReportBodyBytes} bytes`,
    ['too-large', 'body-too-large'],
    schema,
  ),
  '415': errorResponse('The Content-Type is not application/json', ['unsupported-media-type'], schema),
  '503': errorResponse(
    'Signatures could not be checked (a signature worker stopped); nothing was stored: send the same reports again',
    ['unavailable'],
    schema,
  ),
  '405': R405,
  default: DEFAULT,
});

const paginationLimit = (fallback: number, max: number) => ({
  name: 'limit',
  in: 'query',
  required: false,
  schema: { type: 'integer', minimum: 1, maximum: max, default: fallback },
});

const pathParam = (name: string, pattern: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string', pattern },
});

/** Path parameters, with exactly the patterns the routes in oracle/src/api.ts match. */
const PARAMS = {
  device: pathParam(
    'device',
    jsonSchemaOf(hex32).pattern,
    'Device id: keccak256(abi.encode(x, y)) of its P-256 key, 0x and 64 lowercase hex digits',
  ),
  epoch: pathParam('epoch', '^\\d{1,12}$', 'Epoch number'),
  hash: pathParam('hash', jsonSchemaOf(hex32).pattern, 'sha256 of the artifact bytes (the artifactHash the quorum signed)'),
  account: pathParam('account', jsonSchemaOf(addressSchema).pattern, 'Owner account (any case)'),
};

const hexString = (digits: number, description?: string) => ({
  type: 'string',
  pattern: `^0x[0-9a-f]{${digits}}$`,
  ...(description ? { description } : {}),
});
const uintText = {
  type: 'string',
  pattern: '^(0|[1-9][0-9]*)$',
  description: 'non-negative integer in decimal (token amounts are in wei)',
};
const nullable = (schema: Json) => ({ anyOf: [schema, { type: 'null' }] });
const object = (properties: Json, extra: Json = {}) => ({ type: 'object', properties, required: Object.keys(properties), ...extra });

function componentSchemas(): Json {
  const generated: Json = {
    Domain: jsonSchemaOf(domainSchema),
    Report: {
      ...jsonSchemaOf(reportSchema),
      description:
        'A signed device report. `sig` is the device key\'s low-s P-256 signature (r||s) over the canonical JSON of every other field plus `purpose: "groundwork/report"`. `body` is checked by the network plug-in named by `network` and `type` (see the ReportBody.* schemas).',
    },
    ReportBatch: withItems(jsonSchemaOf(batchSchema), 'reports', ref('Report'), 'Up to 500 reports, stored all together or not at all.'),
    Challenge: jsonSchemaOf(challengeSchema),
    DeviceMessage: withReport(jsonSchemaOf(deviceMessageSchema)),
    ServerMessage: jsonSchemaOf(serverMessageSchema),
  };
  for (const plugin of Object.values(NETWORK_PLUGINS)) {
    for (const [type, schema] of Object.entries(plugin.reportTypes)) {
      generated[`ReportBody.${type}`] = {
        ...jsonSchemaOf(schema as z.ZodType),
        description: `body of a ${plugin.kind} report of type ${type}`,
      };
    }
  }

  const accepted = object(
    {
      ok: { type: 'boolean', const: true },
      digest: hexString(64, 'sha256 of the canonical report'),
      status: { type: 'string', enum: ['stored', 'duplicate'] },
    },
    { additionalProperties: false },
  );
  const refusal = {
    ...object({
      ok: { type: 'boolean', const: false },
      status: { type: 'integer' },
      reason: { type: 'string' },
      detail: { type: 'string' },
    }),
    properties: {
      ok: { type: 'boolean', const: false },
      status: { type: 'integer', description: 'HTTP status this refusal alone would get' },
      reason: { type: 'string' },
      detail: { type: 'string' },
      digest: hexString(64),
      index: { type: 'integer', minimum: 0, description: 'position in the batch' },
    },
  };
  const device = object({
    device: hexString(64),
    network: { type: 'string' },
    owner: { type: 'string', pattern: '^0x[0-9a-f]{40}$' },
    keyX: hexString(64),
    keyY: hexString(64),
    stake: uintText,
    unstaking: uintText,
    slashed: uintText,
    location: nullable({ type: 'string' }),
    registeredAt: { type: 'integer', description: 'unix ms' },
    connected: { type: 'boolean', description: 'whether the device holds a WebSocket to this oracle now' },
  });
  const epochSummary = object({
    epoch: { type: 'integer', minimum: 0 },
    state: { type: 'string', enum: ['scored', 'artifact', 'signed', 'posted', 'empty'] },
    root: nullable(hexString(64)),
    total: nullable(uintText),
    artifactHash: nullable(hexString(64)),
    txHash: nullable(hexString(64)),
  });
  const rejection = object({
    device: nullable(hexString(64)),
    digest: nullable(hexString(64)),
    reason: { type: 'string' },
    detail: { type: 'string' },
  });
  const amount = object({ account: { type: 'string', pattern: '^0x[0-9a-f]{40}$' }, amount: uintText });

  return {
    ...generated,
    Error: {
      type: 'object',
      description: 'Every error reply. `error` is a stable reason code, `detail` says what was wrong in words.',
      properties: {
        error: { type: 'string' },
        detail: { type: 'string', minLength: 1 },
        digest: { ...hexString(64), description: 'digest of the refused report, once the device was identified' },
      },
      required: ['error', 'detail'],
    },
    BatchError: {
      allOf: [ERROR, { type: 'object', properties: { refusals: { type: 'array', items: ref('Refusal') } } }],
      description:
        'A refused batch. Once the batch parsed and its reports were checked, `error` and `detail` name the first report refused on its own merits and `refusals` lists every report (the good ones as `batch-refused`); a body that is not JSON, too large or not a batch gets a plain Error.',
    },
    Refusal: refusal,
    Accepted: accepted,
    BatchAccepted: object({
      stored: { type: 'integer', minimum: 0 },
      duplicates: { type: 'integer', minimum: 0 },
      results: { type: 'array', items: ref('Accepted') },
    }),
    Status: object({
      chainId: { type: 'integer' },
      addresses: {
        type: 'object',
        additionalProperties: { type: 'string' },
        description: 'contract addresses by name (token, emissions, registry, distributor, ...)',
      },
      networks: {
        type: 'array',
        items: object({ kind: { type: 'string' }, id: hexString(64), weight: uintText, parameters: { type: 'object' } }),
      },
      epoch: object({
        current: { type: 'integer' },
        duration: { type: 'integer', description: 'seconds' },
        genesisTime: { type: 'integer', description: 'unix seconds' },
        lastClosed: nullable({ type: 'integer' }),
        lastPosted: nullable({ type: 'integer' }),
      }),
      devices: object({ registered: { type: 'integer' }, connected: { type: 'integer' } }),
      follower: object({
        block: uintText,
        lastError: nullable({ type: 'string' }),
        rewinds: { type: 'integer', description: 'times the mirror was cut back to a block the chain still has (a rollback or reorg)' },
      }),
      closer: object({
        lastError: nullable({ type: 'string' }),
        blocked: nullable({
          ...object({
            epoch: { type: 'integer', description: 'the epoch that cannot close' },
            step: { type: 'string', enum: ['release', 'artifact', 'sign', 'post', 'reconcile'] },
            error: { type: 'string' },
            hint: { type: 'string', description: 'what an operator can do about it' },
            since: { type: 'integer', description: 'unix ms when it first happened' },
          }),
          description: 'what stops epochs from closing; null while they close',
        }),
        slashing: object({
          orders: {
            ...object(Object.fromEntries(SLASH_ORDER_STATES.map((s) => [s, { type: 'integer', minimum: 0 }]))),
            description: 'slash orders by state (see /v1/slash-orders)',
          },
          failing: nullable({
            ...object({
              orderId: hexString(64),
              epoch: { type: 'integer' },
              device: hexString(64),
              step: { type: 'string', enum: ['sign', 'propose', 'execute', 'read'] },
              error: { type: 'string' },
              hint: { type: 'string', description: 'what an operator can do about it' },
              since: { type: 'integer', description: 'unix ms when it first happened' },
            }),
            description: 'the first slash order that cannot go on (the others go on, and roots never wait for them); null when none',
          }),
        }),
      }),
      quorum: object({ signers: { type: 'array', items: { type: 'string' } }, quorum: { type: 'integer' } }),
      database: { type: 'string', enum: ['pglite', 'postgres'] },
    }),
    Device: device,
    DeviceList: object({ devices: { type: 'array', items: ref('Device') } }),
    DeviceDetail: {
      allOf: [
        ref('Device'),
        object({
          events: {
            type: 'array',
            items: object({ block: uintText, kind: { type: 'string' }, data: { type: 'object' } }),
            description: 'registry events for this device, oldest first',
          },
        }),
      ],
    },
    Rejection: rejection,
    DeviceRejections: object({
      device: hexString(64),
      epochs: {
        type: 'array',
        description: 'closed epochs (the last 10, or the one asked for): score, reward and the verifier rejections for this device',
        items: object({
          epoch: { type: 'integer' },
          score: nullable({ type: 'object' }),
          reward: uintText,
          rejections: { type: 'array', items: { allOf: [ref('Rejection'), object({ network: { type: 'string' } })] } },
        }),
      },
      pending: {
        type: 'array',
        description: `refusals at ingest for epochs not closed yet (newest first, at most 100; ingest keeps at most ${MAX_REJECTIONS_PER_DEVICE_EPOCH} per device and epoch)`,
        items: object({
          epoch: { type: 'integer' },
          network: { type: 'string' },
          digest: nullable(hexString(64)),
          reason: { type: 'string' },
          detail: { type: 'string' },
          at: uintText,
        }),
      },
    }),
    EpochSummary: epochSummary,
    EpochList: object({ epochs: { type: 'array', items: ref('EpochSummary') } }),
    EpochDetail: {
      allOf: [
        ref('EpochSummary'),
        object({
          networks: {
            type: 'array',
            items: object({
              kind: { type: 'string' },
              budget: uintText,
              paid: uintText,
              undistributed: uintText,
              devices: { type: 'integer' },
              rejections: { type: 'integer' },
            }),
          },
          owners: { type: 'array', items: amount, description: 'what each owner earned in this epoch' },
        }),
      ],
    },
    Artifact: {
      ...object({ inputs: { type: 'object' }, result: { type: 'object' } }),
      description:
        'The epoch artifact, canonical JSON: everything `epoch verify` needs to recompute the root. Its sha256 is the artifactHash (also sent as the x-artifact-hash header).',
    },
    SlashOrders: object({
      orders: {
        type: 'array',
        description: 'newest epoch first',
        items: object({
          orderId: {
            ...hexString(64),
            description:
              'the order id on chain: the EIP-712 struct hash of SlashOrder(epoch, deviceId, amount, evidenceHash, artifactHash)',
          },
          epoch: { type: 'integer' },
          network: { type: 'string' },
          device: hexString(64),
          deviceId: { ...uintText, description: 'the device id as the registry numbers it (the same number as `device`)' },
          kind: { type: 'string', description: 'what the verifier proved, in the network’s words' },
          amount: { ...uintText, description: 'stake to slash, at most' },
          evidenceHash: {
            ...hexString(64),
            description: 'keccak256 of the finding’s evidence (canonical JSON), which the epoch artifact holds',
          },
          artifactHash: hexString(64),
          state: {
            type: 'string',
            enum: SLASH_ORDER_STATES,
            description:
              'found → signed (with the root) → proposed (after the root is posted) → executed, skipped (no stake left) or vetoed (by the guardian), as the chain last said',
          },
          executableAt: nullable({ type: 'integer', description: 'unix seconds, chain time: the end of its challenge window' }),
          proposeTx: nullable(hexString(64)),
          executeTx: nullable(hexString(64)),
          error: nullable({ type: 'string', description: 'the last failure proposing or executing it' }),
        }),
      },
    }),
    Rewards: object({
      account: { type: 'string', pattern: '^0x[0-9a-f]{40}$' },
      latestEpoch: nullable({ type: 'integer' }),
      latestCumulative: uintText,
      claimed: uintText,
      claim: nullable(
        object({
          epoch: { type: 'integer' },
          root: hexString(64),
          cumulativeAmount: uintText,
          proof: { type: 'array', items: hexString(64) },
          claimable: uintText,
        }),
      ),
    }),
  };
}

/** batchSchema takes `reports: unknown[]` (each report is checked on its own); the document names the item type. */
function withItems(schema: Json, key: string, items: Json, description: string): Json {
  const prop = schema.properties?.[key];
  if (prop?.type !== 'array' || Object.keys(prop.items ?? {}).length)
    throw new Error(`expected ${key} to be an array of anything in the generated schema`);
  return { ...schema, properties: { ...schema.properties, [key]: { ...prop, items } }, description };
}

/** deviceMessageSchema takes `report: unknown` (ingest checks it); the document names it a Report. */
function withReport(schema: Json): Json {
  const variants = schema.oneOf as Json[];
  const report = variants?.find((v) => v.properties?.type?.const === 'report');
  if (!report || Object.keys(report.properties.report).length)
    throw new Error('expected a report message with `report: unknown` in the generated schema');
  return { ...schema, oneOf: variants.map((v) => (v === report ? { ...v, properties: { ...v.properties, report: ref('Report') } } : v)) };
}

const WEBSOCKET_DESCRIPTION = `WebSocket upgrade (devices sit behind NAT, so they open the connection).

1. The oracle sends \`{"type":"hello","nonce":<hex32>,"serverTime":<ms>}\`.
2. The device answers \`{"type":"auth","device":<id>,"nonce":<the hello nonce>,"sig":<hex>}\`, where \`sig\` is its low-s P-256 signature over the canonical JSON of \`{purpose: "groundwork/socket-auth", chainId, registry, device, nonce}\`, within 10 s. The oracle replies \`{"type":"ready","device","epoch"}\`; a newer socket for the same device replaces the older one (closed with code 4000).
3. The oracle pushes \`{"type":"challenge","challenge":Challenge}\`; the device sends \`{"type":"report","report":Report}\`, which goes through the same ingest as POST /v1/reports and is answered with \`{"type":"ack","digest","status"}\` or \`{"type":"rejected","digest"?,"reason","detail"}\`.

Messages are JSON text of at most ${LIMITS.maxSocketMessageBytes} bytes (larger ones close the socket with 1009). A malformed message is answered with \`{"type":"error","reason","detail"}\` and the socket stays open; a failed auth (unknown device, wrong nonce, bad signature) or no auth in time is answered with an error and the socket is closed with code 4001. Device-to-oracle messages: DeviceMessage; oracle-to-device: ServerMessage.`;

export function buildOpenApi(): Json {
  const version = (JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string })
    .version;
  const get = (operationId: string, summary: string, responses: Json, extra: Json = {}) => ({
    get: { operationId, summary, ...extra, responses: { ...responses, '405': R405, default: DEFAULT } },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Groundwork oracle',
      version,
      description:
        'The oracle (layer 2) of a Groundwork deployment: ingest of signed device reports over HTTP and WebSocket, network status, devices, closed epochs with their artifacts, and rewards with claim proofs. Generated by oracle/scripts/openapi.ts; do not edit by hand.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [{ name: 'ingest' }, { name: 'network' }, { name: 'devices' }, { name: 'epochs' }, { name: 'rewards' }, { name: 'meta' }],
    paths: {
      '/v1/status': get(
        'status',
        'Network status: chain, contracts, networks, epoch clock, devices, follower, closer, quorum',
        { '200': json(ref('Status'), 'Status') },
        { tags: ['network'] },
      ),
      '/v1/reports': {
        post: {
          operationId: 'report',
          tags: ['ingest'],
          summary: 'Submit one signed report',
          description:
            'Checks the schema, the deployment (chainId, registry), the network and report type, the body, the device registration and its signature, and the epoch window; then writes the report durably and only then answers. A refusal that names a registered device is kept (see /v1/devices/{device}/rejections).',
          requestBody: { required: true, content: { 'application/json': { schema: ref('Report') } } },
          responses: {
            '201': json(ref('Accepted'), 'Stored'),
            '200': json(ref('Accepted'), 'Already stored (a duplicate of an accepted report)'),
            ...INGEST_ERRORS(ERROR),
          },
        },
      },
      '/v1/reports/batch': {
        post: {
          operationId: 'batch',
          tags: ['ingest'],
          summary: 'Submit up to 500 signed reports, all or nothing',
          description:
            'Every report is checked as for POST /v1/reports; if any is refused, none is stored and the reply lists every refusal.',
          requestBody: { required: true, content: { 'application/json': { schema: ref('ReportBatch') } } },
          responses: { '201': json(ref('BatchAccepted'), 'Every report stored (or already stored)'), ...INGEST_ERRORS(ref('BatchError')) },
        },
      },
      '/v1/devices': get(
        'devices',
        'Registered devices, by id',
        { '200': json(ref('DeviceList'), 'Devices'), '400': R400_QUERY },
        {
          tags: ['devices'],
          parameters: [
            paginationLimit(100, 1000),
            { name: 'offset', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 1e9, default: 0 } },
            {
              name: 'owner',
              in: 'query',
              required: false,
              description: 'only devices of this owner',
              schema: { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' },
            },
          ],
        },
      ),
      '/v1/devices/{device}': get(
        'device',
        'One device and its registry events',
        { '200': json(ref('DeviceDetail'), 'Device'), '404': R404('such device') },
        { tags: ['devices'], parameters: [PARAMS.device] },
      ),
      '/v1/devices/{device}/rejections': get(
        'rejections',
        'Why a device was (not) paid: scores, rewards and rejections per closed epoch, and ingest refusals for open epochs',
        { '200': json(ref('DeviceRejections'), 'Rejections'), '400': R400_QUERY },
        {
          tags: ['devices'],
          parameters: [
            PARAMS.device,
            {
              name: 'epoch',
              in: 'query',
              required: false,
              description: 'one closed epoch instead of the last 10',
              schema: { type: 'integer', minimum: 0, maximum: 2 ** 40 },
            },
          ],
        },
      ),
      '/v1/epochs': get(
        'epochs',
        'Closed (or closing) epochs, newest first',
        { '200': json(ref('EpochList'), 'Epochs'), '400': R400_QUERY },
        { tags: ['epochs'], parameters: [paginationLimit(50, 1000)] },
      ),
      '/v1/epochs/{epoch}': get(
        'epoch',
        'One epoch: root, total, per-network budget and payout, per-owner amounts',
        { '200': json(ref('EpochDetail'), 'Epoch'), '404': R404('closed epoch with this number') },
        { tags: ['epochs'], parameters: [PARAMS.epoch] },
      ),
      '/v1/epochs/{epoch}/artifact': get(
        'epoch-artifact',
        "An epoch's artifact",
        { '200': artifactResponse(), '404': R404('artifact for this epoch yet') },
        { tags: ['epochs'], parameters: [PARAMS.epoch] },
      ),
      '/v1/artifacts/{hash}': get(
        'artifact',
        'An artifact by its hash',
        { '200': artifactResponse(), '404': R404('artifact with this hash') },
        { tags: ['epochs'], parameters: [PARAMS.hash] },
      ),
      '/v1/slash-orders': get(
        'slash-orders',
        'Slash orders made from the verifiers’ fraud findings, with where each stands on chain',
        { '200': json(ref('SlashOrders'), 'Slash orders'), '400': R400_QUERY },
        {
          tags: ['epochs'],
          parameters: [
            paginationLimit(100, 1000),
            {
              name: 'epoch',
              in: 'query',
              required: false,
              description: 'only this epoch’s',
              schema: { type: 'integer', minimum: 0, maximum: 2 ** 40 },
            },
            { name: 'state', in: 'query', required: false, schema: { type: 'string', enum: SLASH_ORDER_STATES } },
          ],
        },
      ),
      '/v1/rewards/{account}': get(
        'rewards',
        "An account's cumulative rewards, what it has claimed, and a Merkle proof against the root the distributor pays now",
        { '200': json(ref('Rewards'), 'Rewards') },
        { tags: ['rewards'], parameters: [PARAMS.account] },
      ),
      '/metrics': get(
        'metrics',
        'Prometheus metrics',
        { '200': { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
        { tags: ['meta'] },
      ),
      '/openapi.json': get('openapi', 'This document', { '200': json({ type: 'object' }, 'OpenAPI 3.1 document') }, { tags: ['meta'] }),
      '/v1/connect': {
        get: {
          operationId: 'connect',
          tags: ['ingest'],
          summary: 'Device WebSocket: authenticate, receive challenges, send reports',
          description: WEBSOCKET_DESCRIPTION,
          'x-websocket': {
            clientMessages: ref('DeviceMessage'),
            serverMessages: ref('ServerMessage'),
            maxMessageBytes: LIMITS.maxSocketMessageBytes,
          },
          parameters: [
            { name: 'Upgrade', in: 'header', required: true, schema: { type: 'string', const: 'websocket' } },
            { name: 'Connection', in: 'header', required: true, schema: { type: 'string', const: 'Upgrade' } },
          ],
          responses: {
            '101': { description: 'Switching Protocols: the socket is open and the oracle sends hello' },
            '404': errorResponse('Not a WebSocket upgrade request (plain HTTP GET)', ['not-found']),
          },
        },
      },
    },
    components: { schemas: componentSchemas() },
  };
}

function artifactResponse(): Json {
  return {
    description: 'Artifact bytes (canonical JSON)',
    headers: {
      'x-artifact-hash': { description: 'sha256 of the body', schema: hexString(64) },
      'content-length': {
        description: 'bytes; the body is streamed from the artifact file (gigabytes at a million devices)',
        schema: { type: 'integer' },
      },
    },
    content: { 'application/json': { schema: ref('Artifact') } },
  };
}

/** The document as written to oracle/openapi.json. */
export function renderOpenApi(): string {
  return `${JSON.stringify(buildOpenApi(), null, 2)}\n`;
}

function main(): void {
  const fresh = renderOpenApi();
  const relative = path.relative(process.cwd(), OPENAPI_PATH);
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(OPENAPI_PATH, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== fresh) {
      console.error(`${relative} is stale: run node --import tsx oracle/scripts/openapi.ts`);
      process.exit(1);
    }
    console.log(`${relative} is up to date`);
    return;
  }
  writeFileSync(OPENAPI_PATH, fresh);
  console.log(`wrote ${relative} (${Object.keys(buildOpenApi().paths).length} paths)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
