// Prometheus metrics (prom-client), one registry per oracle so several can share a process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type OracleMetrics = ReturnType<typeof createMetrics>;

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'groundwork_oracle_' });
  const r = [registry];
  return {
    registry,
    reportsAccepted: new Counter({
      name: 'groundwork_reports_accepted_total',
      help: 'Reports acked, by stored or duplicate',
      labelNames: ['status'],
      registers: r,
    }),
    reportsRefused: new Counter({
      name: 'groundwork_reports_refused_total',
      help: 'Reports refused at ingest, by reason',
      labelNames: ['reason'],
      registers: r,
    }),
    ingestSeconds: new Histogram({
      name: 'groundwork_ingest_seconds',
      help: 'Time from request to durable write',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: r,
    }),
    httpRequests: new Counter({
      name: 'groundwork_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['route', 'status'],
      registers: r,
    }),
    connectedDevices: new Gauge({ name: 'groundwork_connected_devices', help: 'Devices with an authenticated socket', registers: r }),
    challengesIssued: new Counter({
      name: 'groundwork_challenges_issued_total',
      help: 'Challenges issued',
      labelNames: ['network', 'delivered'],
      registers: r,
    }),
    epochCloseSeconds: new Histogram({
      name: 'groundwork_epoch_close_seconds',
      help: 'Time to close an epoch, by step',
      labelNames: ['step'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
      registers: r,
    }),
    lastClosedEpoch: new Gauge({ name: 'groundwork_last_closed_epoch', help: 'Last epoch whose close finished', registers: r }),
    followerBlock: new Gauge({ name: 'groundwork_follower_block', help: 'Last block the chain follower mirrored', registers: r }),
    followerErrors: new Counter({ name: 'groundwork_follower_errors_total', help: 'RPC errors seen by the chain follower', registers: r }),
  };
}
