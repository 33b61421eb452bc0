// A network's services plug into the oracle without the oracle knowing them (protocol/src/network.ts):
// a test network, `echo`, has a service with its own table and routes under /v1/echo/, hears its
// devices' hellos and messages over their sockets, sends them payloads, and is told of each of
// its reports that ingest stored. Its worker answers a payload with a message and a signed report.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Hex } from 'viem';
import { z } from 'zod';
import uptimeNetwork from '@groundwork/network-uptime';
import {
  type AnyNetworkPlugin,
  type NetworkService,
  type ServiceContext,
  ServiceError,
  type ServicePayload,
  signReport,
} from '@groundwork/protocol';
import { startTestnet, type Testnet } from '@groundwork/sim';

type Heard = { kind: string; device: Hex; payload: unknown };
const heard: Heard[] = [];

function echoService(ctx: ServiceContext): NetworkService {
  return {
    schema: ['create table if not exists echo_log (device text not null, what text not null)'],
    routes: [
      {
        method: 'GET',
        path: 'ping/([a-z]+)',
        handle: async (req) => ({ json: { pong: req.params[0], network: ctx.network, q: req.query.get('q') } }),
      },
      {
        method: 'PUT',
        path: 'blob',
        maxBodyBytes: 2 << 20,
        handle: async (req) => {
          await ctx.db.query('insert into echo_log (device, what) values ($1, $2)', ['-', `blob ${req.body.length}`]);
          return { status: 201, json: { bytes: req.body.length } };
        },
      },
      {
        method: 'POST',
        path: 'send/(0x[0-9a-f]{64})',
        handle: async (req) => ({ json: { delivered: ctx.send(req.params[0] as Hex, { n: 7 }) } }),
      },
      {
        method: 'GET',
        path: 'busy',
        handle: async () => {
          throw new ServiceError(409, 'busy', 'the echo service is busy');
        },
      },
    ],
    onConnection: (device, hello) => void heard.push({ kind: hello ? 'hello' : 'gone', device, payload: hello }),
    onMessage: (device, payload) => void heard.push({ kind: 'message', device, payload }),
    onReport: (accepted) => void heard.push({ kind: 'report', device: accepted.report.device, payload: accepted.report.body }),
    start: async () => {},
    stop: async () => {},
    status: () => ({ heard: heard.length }),
  };
}

const echoNetwork: AnyNetworkPlugin = {
  ...uptimeNetwork,
  kind: 'echo',
  description: 'test network: a service that echoes',
  reportTypes: { done: z.object({ n: z.number().int() }).strict() },
  challenger: undefined,
  worker: {
    hello: () => ({ cores: 2 }),
    onService: async (payload: ServicePayload, ctx) => {
      ctx.send({ got: payload.n });
      const answer = await ctx.submit(
        signReport(
          {
            v: 1,
            chainId: ctx.domain.chainId,
            registry: ctx.domain.registry,
            network: 'echo',
            type: 'done',
            device: ctx.device,
            epoch: ctx.epoch(),
            body: { n: payload.n },
          },
          ctx.key,
        ),
      );
      ctx.send({ submitted: answer.ok });
    },
  },
  service: echoService,
};

async function until<T>(what: string, get: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('network services', () => {
  let net: Testnet;
  let base: string;
  before(async () => {
    net = await startTestnet({
      devices: 2,
      networks: [
        { kind: 'uptime', weight: 1n },
        { kind: 'echo', weight: 1n },
      ],
      network: (i) => (i === 0 ? 'echo' : 'uptime'),
      oracle: { plugins: { echo: echoNetwork } },
    });
    base = net.oracle!.url;
  });
  after(async () => {
    await net?.stop();
  });

  test("the service's routes answer under /v1/<network>/, with their own errors and body limits", async () => {
    const ping = await fetch(`${base}/v1/echo/ping/abc?q=1`);
    assert.equal(ping.status, 200);
    assert.deepEqual(await ping.json(), { pong: 'abc', network: 'echo', q: '1' });
    const busy = await fetch(`${base}/v1/echo/busy`);
    assert.equal(busy.status, 409);
    assert.deepEqual(await busy.json(), { error: 'busy', detail: 'the echo service is busy' });
    assert.equal((await fetch(`${base}/v1/echo/ping/abc`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${base}/v1/echo/nothing`)).status, 404);
    assert.equal((await fetch(`${base}/v1/nonetwork/ping/abc`)).status, 404);
    const big = new Uint8Array(1_500_000);
    const put = await fetch(`${base}/v1/echo/blob`, { method: 'PUT', body: big });
    assert.equal(put.status, 201, 'a route may take more than the JSON limit');
    assert.deepEqual(await put.json(), { bytes: big.length });
    const rows = await net.oracle!.db.query('select what from echo_log');
    assert.deepEqual(
      rows.map((r) => r.what),
      [`blob ${big.length}`],
      'its own table',
    );
    const tooBig = await fetch(`${base}/v1/echo/blob`, { method: 'PUT', body: new Uint8Array((2 << 20) + 1) });
    assert.equal(tooBig.status, 413);
  });

  test('hello, payloads both ways and stored reports reach the service; other networks do not', async () => {
    const echo = net.providers[0]!;
    const other = net.providers[1]!;
    const hello = await until('the hello', () => heard.find((h) => h.kind === 'hello' && h.device === echo.device));
    assert.deepEqual(hello.payload, { cores: 2 });
    assert.ok(!heard.some((h) => h.device === other.device), 'an uptime device has no echo service');

    const sent = await fetch(`${base}/v1/echo/send/${echo.device}`, { method: 'POST' });
    assert.deepEqual(await sent.json(), { delivered: true });
    const got = await until('the message', () => heard.find((h) => h.kind === 'message' && (h.payload as { got?: number }).got === 7));
    assert.equal(got.device, echo.device);
    const report = await until('the report', () => heard.find((h) => h.kind === 'report'));
    assert.deepEqual(report.payload, { n: 7 });
    const submitted = await until('the ingest answer', () =>
      heard.find((h) => h.kind === 'message' && 'submitted' in (h.payload as object)),
    );
    assert.deepEqual(submitted.payload, { submitted: true });

    const status = (await (await fetch(`${base}/v1/status`)).json()) as { services: Record<string, { heard: number }> };
    assert.ok(status.services.echo!.heard >= 4);

    const toStranger = await fetch(`${base}/v1/echo/send/0x${'ab'.repeat(32)}`, { method: 'POST' });
    assert.deepEqual(await toStranger.json(), { delivered: false });
  });

  test('a device that leaves is reported gone', async () => {
    const echo = net.providers[0]!;
    await echo.agent!.stop();
    await until('the goodbye', () => heard.find((h) => h.kind === 'gone' && h.device === echo.device));
  });
});
