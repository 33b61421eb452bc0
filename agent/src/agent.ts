// The provider's node (layer 1): opens a socket to the oracle (devices sit behind NAT), proves it
// holds the device key, runs the network's worker on every challenge and sends the signed answer
// back. Reconnects with backoff; never exits on a bad message.
import type { KeyObject } from 'node:crypto';
import WebSocket from 'ws';
import type { Hex } from 'viem';
import {
  type EpochClock,
  serverMessageSchema,
  type ServerMessage,
  signSocketAuth,
  type Challenge,
  type Domain,
  type AnyNetworkPlugin,
  type Report,
  type WorkerContext,
} from '@groundwork/protocol';

export type AgentStats = {
  connects: number;
  challenges: number;
  answers: number;
  acked: number;
  rejected: number;
  lastRejection: string | null;
  /** Digests the oracle acked as durably stored (the last 1,000). */
  ackedDigests: Hex[];
};

export type AgentOptions = {
  /** ws://host:port/v1/connect */
  wsUrl: string;
  device: Hex;
  key: KeyObject;
  domain: Domain;
  network: AnyNetworkPlugin;
  clock: EpochClock;
  /** Replaces the network worker's answer (the simulator's cheaters use this). */
  answer?: (challenge: Challenge, ctx: WorkerContext) => Promise<Report | null> | Report | null;
  log?: (line: string) => void;
  /** Most milliseconds between reconnect attempts (default 5000). */
  maxBackoffMs?: number;
  /** The oracle's HTTP base URL (default: from wsUrl). */
  oracleUrl?: string;
};

/** http://host:port for ws://host:port/v1/connect. */
export function oracleUrlOf(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = '';
  return u.toString().replace(/\/$/, '');
}

export type Agent = {
  device: Hex;
  stats: AgentStats;
  readonly connected: boolean;
  /** Resolves once the oracle has accepted the socket. */
  ready(): Promise<void>;
  stop(): Promise<void>;
};

export function startAgent(o: AgentOptions): Agent {
  const stats: AgentStats = { connects: 0, challenges: 0, answers: 0, acked: 0, rejected: 0, lastRejection: null, ackedDigests: [] };
  const log = o.log ?? (() => {});
  const oracleUrl = o.oracleUrl ?? oracleUrlOf(o.wsUrl);
  let ws: WebSocket | null = null;
  const ctx: WorkerContext = {
    device: o.device,
    domain: o.domain,
    key: o.key,
    epoch: () => o.clock.epochAtMs(Date.now()),
    log,
    oracleUrl,
    send: (payload) => {
      if (!ws || !connected || ws.readyState !== ws.OPEN) return false;
      ws.send(JSON.stringify({ type: 'service', network: o.network.kind, payload }));
      return true;
    },
    // Over HTTP rather than the socket: the answer comes back on the same request, so it needs
    // no matching of acks to reports.
    submit: async (report) => {
      const res = await fetch(`${oracleUrl}/v1/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(report),
      });
      const answer = (await res.json().catch(() => ({}))) as { digest?: Hex; error?: string; detail?: string };
      if (res.ok && answer.digest) return { ok: true, digest: answer.digest };
      return { ok: false, reason: answer.error ?? `http-${res.status}`, detail: answer.detail ?? res.statusText };
    },
  };
  let stopped = false;
  let connected = false;
  let backoff = 250;
  let retry: NodeJS.Timeout | null = null;
  let readyWaiters: (() => void)[] = [];

  const connect = () => {
    if (stopped) return;
    const socket = new WebSocket(o.wsUrl, { handshakeTimeout: 10_000 });
    ws = socket;
    socket.on('message', (data) => {
      let msg: ServerMessage;
      try {
        msg = serverMessageSchema.parse(JSON.parse(data.toString()));
      } catch (err) {
        log(`ignoring a malformed message from the oracle: ${(err as Error).message.slice(0, 200)}`);
        return;
      }
      switch (msg.type) {
        case 'hello':
          socket.send(
            JSON.stringify({ type: 'auth', device: o.device, nonce: msg.nonce, sig: signSocketAuth(o.domain, o.device, msg.nonce, o.key) }),
          );
          break;
        case 'ready':
          connected = true;
          backoff = 250;
          stats.connects++;
          for (const w of readyWaiters) w();
          readyWaiters = [];
          if (o.network.worker.hello) void sendHello(socket);
          break;
        case 'service':
          if (msg.network === o.network.kind) void onService(msg.payload);
          break;
        case 'challenge':
          void onChallenge(socket, msg.challenge);
          break;
        case 'ack':
          stats.acked++;
          stats.ackedDigests.push(msg.digest);
          if (stats.ackedDigests.length > 1000) stats.ackedDigests.shift();
          break;
        case 'rejected':
          stats.rejected++;
          stats.lastRejection = `${msg.reason}: ${msg.detail}`;
          log(`report rejected: ${stats.lastRejection}`);
          break;
        case 'error':
          log(`oracle: ${msg.reason}: ${msg.detail}`);
          break;
      }
    });
    socket.on('error', (err) => log(`socket: ${err.message}`));
    socket.on('close', () => {
      connected = false;
      if (stopped) return;
      retry = setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 5000);
    });
  };

  const sendHello = async (socket: WebSocket) => {
    try {
      const payload = await o.network.worker.hello!(ctx);
      if (payload && socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: 'hello', network: o.network.kind, payload }));
    } catch (err) {
      log(`worker hello failed: ${(err as Error).message}`);
    }
  };

  const onService = async (payload: Record<string, unknown>) => {
    try {
      await o.network.worker.onService?.(payload, ctx);
    } catch (err) {
      log(`worker failed on a service message: ${(err as Error).message}`);
    }
  };

  const onChallenge = async (socket: WebSocket, challenge: Challenge) => {
    if (challenge.device !== o.device) return;
    stats.challenges++;
    try {
      const report = o.answer ? await o.answer(challenge, ctx) : await o.network.worker.onChallenge?.(challenge, ctx);
      if (!report || socket.readyState !== socket.OPEN) return;
      socket.send(JSON.stringify({ type: 'report', report }));
      stats.answers++;
    } catch (err) {
      log(`worker failed on challenge ${challenge.nonce}: ${(err as Error).message}`);
    }
  };

  connect();
  return {
    device: o.device,
    stats,
    get connected() {
      return connected;
    },
    ready: () => (connected ? Promise.resolve() : new Promise<void>((resolve) => readyWaiters.push(resolve))),
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      if (ws && ws.readyState !== ws.CLOSED) {
        await new Promise<void>((resolve) => {
          ws!.once('close', () => resolve());
          ws!.close();
          setTimeout(resolve, 1000).unref();
        });
      }
    },
  };
}
