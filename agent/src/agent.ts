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
};

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
  const ctx: WorkerContext = { device: o.device, domain: o.domain, key: o.key, epoch: () => o.clock.epochAtMs(Date.now()), log };
  let ws: WebSocket | null = null;
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
