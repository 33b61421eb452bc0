// The OpenAPI document: committed file == fresh generation, routes in api.ts <-> paths in the
// document, and real responses of a running oracle have the shape the document gives them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startTestnet, type Testnet } from '@groundwork/sim';
import { routes } from '../src/api.ts';
import { OPENAPI_PATH, buildOpenApi, renderOpenApi } from '../scripts/openapi.ts';

type Json = Record<string, any>;
const committed = readFileSync(OPENAPI_PATH, 'utf8');
const doc = JSON.parse(committed) as Json;
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];

test('oracle/openapi.json is what oracle/scripts/openapi.ts generates (run it after changing a schema)', () => {
  assert.equal(committed, renderOpenApi());
  assert.deepEqual(doc, buildOpenApi());
  assert.equal(doc.openapi, '3.1.0');
});

test('every route in api.ts has a path in the document, with the same parameter patterns, and vice versa', () => {
  const documented: { method: string; source: string; operationId: string; path: string }[] = [];
  for (const [p, item] of Object.entries(doc.paths as Json)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op || op['x-websocket']) continue; // /v1/connect is the WebSocket upgrade (sockets.ts), not a route
      const params = Object.fromEntries((op.parameters ?? []).filter((x: Json) => x.in === 'path').map((x: Json) => [x.name, x]));
      const pattern = p.replace(/\{(\w+)\}/g, (_m, name: string) => {
        const param = params[name];
        assert.ok(param, `${method.toUpperCase()} ${p}: no path parameter ${name}`);
        assert.equal(param.required, true);
        const inner = String(param.schema.pattern).replace(/^\^/, '').replace(/\$$/, '');
        return `(${inner})`;
      });
      documented.push({ method: method.toUpperCase(), source: new RegExp(`^${pattern}$`).source, operationId: op.operationId, path: p });
    }
  }
  for (const r of routes) {
    const found = documented.find((d) => d.method === r.method && d.source === r.pattern.source);
    assert.ok(found, `route ${r.method} ${r.pattern} (${r.name}) has no path in oracle/openapi.json`);
    assert.equal(found.operationId, r.name, `operationId of ${found.method} ${found.path}`);
  }
  for (const d of documented) {
    assert.ok(
      routes.some((r) => r.method === d.method && r.pattern.source === d.source),
      `${d.method} ${d.path} is in oracle/openapi.json but api.ts has no such route`,
    );
  }
  assert.equal(documented.length, routes.length);
  assert.ok(doc.paths['/v1/connect']?.get?.responses?.['101'], 'the WebSocket upgrade is documented as a GET with 101');
});

test('every documented error status replies { error, detail }', () => {
  for (const [p, item] of Object.entries(doc.paths as Json)) {
    for (const method of METHODS) {
      for (const [status, response] of Object.entries((item[method]?.responses ?? {}) as Json)) {
        if (status !== 'default' && Number(status) < 400) continue;
        const schema = resolve(response.content['application/json'].schema);
        const required = new Set(requiredKeys(schema));
        assert.ok(required.has('error') && required.has('detail'), `${method} ${p} ${status}`);
      }
    }
  }
  const ingest = doc.paths['/v1/reports'].post.responses;
  for (const status of ['400', '401', '403', '409', '413', '415', '405']) assert.ok(ingest[status], `POST /v1/reports documents ${status}`);
});

// A small JSON Schema (2020-12) checker for what this document uses: $ref, allOf, anyOf, oneOf,
// type, const, enum, pattern, minLength, required, properties, additionalProperties, items.
function resolve(schema: Json): Json {
  if (schema.$ref) {
    const name = String(schema.$ref).replace('#/components/schemas/', '');
    const target = doc.components.schemas[name];
    assert.ok(target, `unresolved ${schema.$ref}`);
    return resolve(target);
  }
  return schema;
}

function requiredKeys(schema: Json): string[] {
  const s = resolve(schema);
  return [...(s.required ?? []), ...(s.allOf ?? []).flatMap((x: Json) => requiredKeys(x))];
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function problems(value: unknown, schema: Json, at = '$'): string[] {
  const s = resolve(schema);
  const out: string[] = [];
  for (const part of s.allOf ?? []) out.push(...problems(value, part, at));
  if (s.anyOf && !s.anyOf.some((x: Json) => problems(value, x, at).length === 0)) out.push(`${at}: matches none of anyOf`);
  if (s.oneOf && s.oneOf.filter((x: Json) => problems(value, x, at).length === 0).length !== 1)
    out.push(`${at}: does not match exactly one of oneOf`);
  if (s.type) {
    const t = typeOf(value);
    const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) return [...out, `${at}: ${t}, expected ${types.join('|')}`];
  }
  if ('const' in s && value !== s.const) out.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(s.const)}`);
  if (s.enum && !s.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(s.enum)}`);
  if (typeof value === 'string') {
    if (s.pattern && !new RegExp(s.pattern).test(value)) out.push(`${at}: ${JSON.stringify(value)} does not match ${s.pattern}`);
    if (s.minLength !== undefined && value.length < s.minLength) out.push(`${at}: shorter than ${s.minLength}`);
  }
  if (typeOf(value) === 'object') {
    const obj = value as Json;
    for (const k of s.required ?? []) if (!(k in obj)) out.push(`${at}: missing required key ${k}`);
    for (const [k, v] of Object.entries(obj)) {
      if (s.properties?.[k]) out.push(...problems(v, s.properties[k], `${at}.${k}`));
      else if (s.additionalProperties === false) out.push(`${at}: unexpected key ${k}`);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object')
        out.push(...problems(v, s.additionalProperties, `${at}.${k}`));
    }
  }
  if (Array.isArray(value) && s.items) {
    value.forEach((v, i) => {
      out.push(...problems(v, s.items, `${at}[${i}]`));
    });
  }
  return out;
}

function responseSchema(p: string, method: string, status: string): Json {
  const r = doc.paths[p]?.[method]?.responses?.[status];
  assert.ok(r, `${method} ${p} documents ${status}`);
  return r.content['application/json'].schema;
}

describe('against a running oracle (2 devices, 6 s epochs)', { timeout: 120_000 }, () => {
  let net: Testnet;
  let url: string;
  before(async () => {
    net = await startTestnet({ devices: 2, epochSeconds: 6 });
    url = net.oracle!.url;
  });
  after(async () => {
    await net?.stop();
  });

  async function getJson(p: string): Promise<{ status: number; body: unknown; type: string }> {
    const res = await fetch(`${url}${p}`);
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.json() };
  }

  function assertShape(body: unknown, schema: Json, what: string) {
    const s = resolve(schema);
    for (const key of requiredKeys(s))
      assert.ok(typeof body === 'object' && body !== null && key in body, `${what}: missing required key ${key}`);
    assert.deepEqual(problems(body, schema), [], what);
  }

  test('GET /openapi.json returns the committed file', async () => {
    const res = await fetch(`${url}/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(await res.text(), committed);
  });

  test('GET /v1/status, /v1/devices and /v1/epochs have the documented shape', async () => {
    const first = net.clock.epochAtMs(Date.now());
    await net.waitForEpoch(first, 60_000); // at least one closed epoch, so /v1/epochs has rows
    for (const p of ['/v1/status', '/v1/devices', '/v1/epochs']) {
      const { status, body, type } = await getJson(p);
      assert.equal(status, 200, p);
      assert.match(type, /^application\/json/);
      assertShape(body, responseSchema(p, 'get', '200'), p);
    }
    const { body } = await getJson('/v1/epochs');
    assert.ok((body as Json).epochs.length >= 1);
  });

  test('the other GET routes and some refusals have the documented shape', async () => {
    const epochs = ((await getJson('/v1/epochs')).body as Json).epochs as Json[];
    const posted = epochs.find((e) => e.state === 'posted');
    const device = net.providers[0]!.device;
    const cases: [string, string, string][] = [
      [`/v1/devices/${device}`, '/v1/devices/{device}', '200'],
      [`/v1/devices/${device}/rejections`, '/v1/devices/{device}/rejections', '200'],
      [`/v1/rewards/${net.providers[0]!.owner}`, '/v1/rewards/{account}', '200'],
      [`/v1/epochs/${epochs[0]!.epoch}`, '/v1/epochs/{epoch}', '200'],
      [`/v1/devices/0x${'0'.repeat(64)}`, '/v1/devices/{device}', '404'],
      ['/v1/epochs/999999', '/v1/epochs/{epoch}', '404'],
      ['/v1/devices?limit=0', '/v1/devices', '400'],
      ['/v1/slash-orders', '/v1/slash-orders', '200'],
      ['/v1/slash-orders?state=pending', '/v1/slash-orders', '400'],
    ];
    if (posted) {
      cases.push([`/v1/epochs/${posted.epoch}/artifact`, '/v1/epochs/{epoch}/artifact', '200']);
      cases.push([`/v1/artifacts/${posted.artifactHash}`, '/v1/artifacts/{hash}', '200']);
    }
    for (const [p, template, status] of cases) {
      const res = await getJson(p);
      assert.equal(String(res.status), status, p);
      assertShape(res.body, responseSchema(template, 'get', status), p);
    }
    // 405 and 415 on ingest
    const wrongMethod = await fetch(`${url}/v1/status`, { method: 'POST' });
    assert.equal(wrongMethod.status, 405);
    assertShape(await wrongMethod.json(), responseSchema('/v1/status', 'get', '405'), 'POST /v1/status');
    const wrongType = await fetch(`${url}/v1/reports`, { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } });
    assert.equal(wrongType.status, 415);
    assertShape(await wrongType.json(), responseSchema('/v1/reports', 'post', '415'), 'POST /v1/reports as text/plain');
  });

  test('stored reports match the generated Report schema; a report with an extra key does not', async () => {
    // The agents answer the challenges of every epoch they are connected for; wait for some.
    const deadline = Date.now() + 60_000;
    let rows: { report: Json }[] = [];
    while (rows.length === 0 && Date.now() < deadline) {
      rows = (await net.oracle!.db.query<{ report: string }>('select report from reports limit 5')).map((r) => ({
        report: JSON.parse(r.report) as Json,
      }));
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(rows.length > 0, 'the agents had reports stored');
    for (const r of rows) assert.deepEqual(problems(r.report, { $ref: '#/components/schemas/Report' }), []);
    assert.notDeepEqual(problems({ ...rows[0]!.report, extra: 1 }, { $ref: '#/components/schemas/Report' }), []);
    assert.notDeepEqual(problems({ ...rows[0]!.report, sig: '0x00' }, { $ref: '#/components/schemas/Report' }), []);
  });
});
