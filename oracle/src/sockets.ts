// Devices sit behind NAT, so they open the connection: a WebSocket at /v1/connect. The oracle says
// hello with a nonce, the device signs it with its key, and from then on the oracle pushes
// challenges down the socket and the device sends reports up it (through the same ingest).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Hex } from 'viem';
import {
  LIMITS,
  describeZodError,
  deviceMessageSchema,
  socketAuthBytes,
  verifyMessage,
  type Domain,
  type ServerMessage,
  type ServicePayload,
} from '@groundwork/protocol';
import type { DeviceCache } from './devices.ts';
import type { Ingest } from './ingest.ts';
import type { OracleMetrics } from './metrics.ts';

const AUTH_TIMEOUT_MS = 10_000;

/** How a socket reaches the services of its device's network. */
export type ServiceLink = {
  /** Whether `network` has services that take messages. */
  has(network: string): boolean;
  message(device: Hex, network: string, payload: ServicePayload): Promise<void>;
  hello(device: Hex, network: string, payload: ServicePayload | null): Promise<void>;
};
const PING_INTERVAL_MS = 15_000;

export class SocketHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.maxSocketMessageBytes });
  private readonly sockets = new Map<string, WebSocket>();
  private readonly alive = new WeakSet<WebSocket>();
  private readonly pinger: NodeJS.Timeout;

  constructor(
    private readonly o: {
      devices: DeviceCache;
      domain: Domain;
      ingest: Ingest;
      metrics: OracleMetrics;
      currentEpoch: () => number;
      /** Where the networks' services hear from their devices' workers (oracle.ts). */
      services?: ServiceLink;
    },
  ) {
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS).unref();
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/v1/connect') {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nWebSocket endpoint is /v1/connect\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
    });
  }

  isConnected(device: string): boolean {
    return this.sockets.has(device);
  }

  get connected(): number {
    return this.sockets.size;
  }

  /** Sends to the device's socket; false if it is not connected. */
  send(device: string, message: ServerMessage): boolean {
    const ws = this.sockets.get(device);
    if (!ws || ws.readyState !== ws.OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket): void {
    const nonce = `0x${randomBytes(32).toString('hex')}` as Hex;
    let device: string | null = null;
    this.alive.add(ws);
    const sendJson = (m: ServerMessage) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(m));
    const refuse = (reason: string, detail: string, close = false) => {
      sendJson({ type: 'error', reason, detail });
      if (close) ws.close(4001, reason);
    };
    const timer = setTimeout(
      () => device === null && refuse('auth-timeout', `no auth within ${AUTH_TIMEOUT_MS} ms`, true),
      AUTH_TIMEOUT_MS,
    );
    ws.on('pong', () => this.alive.add(ws));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      clearTimeout(timer);
      if (device && this.sockets.get(device) === ws) {
        this.sockets.delete(device);
        this.o.metrics.connectedDevices.set(this.sockets.size);
        const network = this.o.devices.get(device)?.network;
        if (network && this.o.services?.has(network)) void this.o.services.hello(device as Hex, network, null).catch(() => {});
      }
    });
    ws.on('message', (data, isBinary) => {
      void (async () => {
        if (isBinary) return refuse('malformed', 'messages are JSON text');
        let json: unknown;
        try {
          json = JSON.parse(data.toString());
        } catch {
          return refuse('malformed', 'not JSON');
        }
        const msg = deviceMessageSchema.safeParse(json);
        if (!msg.success) return refuse('malformed', describeZodError(msg.error));
        if (msg.data.type === 'auth') {
          if (device) return refuse('already-authenticated', `this socket is device ${device}`);
          const known = this.o.devices.get(msg.data.device);
          if (!known) return refuse('unregistered-device', `device ${msg.data.device} is not registered`, true);
          if (msg.data.nonce !== nonce) return refuse('wrong-nonce', "sign the nonce from this socket's hello", true);
          if (!verifyMessage(known.key, socketAuthBytes(this.o.domain, msg.data.device, nonce), msg.data.sig)) {
            return refuse('bad-signature', "the auth signature does not verify against the device's registered key", true);
          }
          device = msg.data.device;
          clearTimeout(timer);
          this.sockets.get(device)?.close(4000, 'replaced by a newer connection');
          this.sockets.set(device, ws);
          this.o.metrics.connectedDevices.set(this.sockets.size);
          sendJson({ type: 'ready', device: msg.data.device, epoch: this.o.currentEpoch() });
          return;
        }
        if (!device) return refuse('not-authenticated', 'send auth first');
        if (msg.data.type === 'service' || msg.data.type === 'hello') {
          const network = this.o.devices.get(device)?.network;
          if (msg.data.network !== network) {
            return refuse('wrong-network', `device ${device} is registered on ${network ?? 'no network'}, not ${msg.data.network}`);
          }
          if (!this.o.services?.has(network)) return refuse('no-service', `network ${network} has no services on this oracle`);
          const d = device as Hex;
          if (msg.data.type === 'hello') await this.o.services.hello(d, network, msg.data.payload);
          else await this.o.services.message(d, network, msg.data.payload);
          return;
        }
        const result = await this.o.ingest.submit(msg.data.report);
        if (result.ok) sendJson({ type: 'ack', digest: result.digest, status: result.status });
        else
          sendJson(
            result.digest
              ? { type: 'rejected', digest: result.digest, reason: result.reason, detail: result.detail }
              : { type: 'rejected', reason: result.reason, detail: result.detail },
          );
      })().catch((err) => refuse('internal', (err as Error).message));
    });
    sendJson({ type: 'hello', nonce, serverTime: Date.now() });
  }

  private ping(): void {
    for (const ws of this.wss.clients) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }
}
