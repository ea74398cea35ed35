// /metrics in Prometheus text format (prom-client). Values are read from the
// engine's and adapter's counters at scrape time: nothing keeps a second copy.
import { Registry, Gauge, Counter } from 'prom-client';
import { REASON_CODES } from '../../protocol/index.ts';
import type { RoundEngine } from '../engine/index.ts';
import type { SocketAdapter } from './socketAdapter.ts';

type Transport = Pick<SocketAdapter, 'connected' | 'connections' | 'stats' | 'uploadStats' | 'uploadBuffer' | 'work'>;

export function createMetrics(engine: RoundEngine, sockets: Transport, bytesOut: () => number): Registry {
  const registry = new Registry();
  const s = engine.stats;
  new Gauge({ name: 'fedrec_round', help: 'Current round number', registers: [registry], collect() { this.set(engine.round); } });
  new Gauge({ name: 'fedrec_model_version', help: 'Latest committed model version', registers: [registry], collect() { this.set(engine.modelVersion); } });
  new Gauge({ name: 'fedrec_clients_connected', help: 'Authenticated clients connected', registers: [registry], collect() { this.set(sockets.connected); } });
  new Gauge({ name: 'fedrec_connections_open', help: 'socket.io connections open, authenticated or not', registers: [registry], collect() { this.set(sockets.connections.total); } });
  new Counter({ name: 'fedrec_rounds_total', help: 'Rounds closed, by outcome', labelNames: ['outcome'], registers: [registry], collect() {
    this.reset();
    this.inc({ outcome: 'committed' }, s.committed);
    this.inc({ outcome: 'abandoned' }, s.abandoned);
  } });
  new Counter({ name: 'fedrec_updates_accepted_total', help: 'Updates accepted into an aggregate', registers: [registry], collect() { this.reset(); this.inc(s.accepted); } });
  new Counter({ name: 'fedrec_updates_bounded_total', help: 'Accepted updates shortened by the norm bound (no DP) or the W x clip projection (central DP)', registers: [registry], collect() { this.reset(); this.inc(s.bounded); } });
  new Counter({ name: 'fedrec_updates_refused_total', help: 'Updates and reports refused, by reason', labelNames: ['reason'], registers: [registry], collect() {
    this.reset();
    for (const code of REASON_CODES) this.inc({ reason: code }, s.refused.get(code) ?? 0);
  } });
  new Counter({ name: 'fedrec_auth_refused_total', help: 'Connections refused at authentication, by reason', labelNames: ['reason'], registers: [registry], collect() {
    this.reset();
    for (const [code, n] of sockets.stats.authFailures) this.inc({ reason: code }, n);
  } });
  new Counter({ name: 'fedrec_transport_refused_total', help: 'Socket messages and uploads refused by the transport (before the engine), by channel and reason', labelNames: ['channel', 'reason'], registers: [registry], collect() {
    this.reset();
    for (const [code, n] of sockets.stats.connectionsRefused) this.inc({ channel: 'connection', reason: code }, n);
    for (const [code, n] of sockets.stats.messagesRefused) this.inc({ channel: 'message', reason: code }, n);
    for (const [code, n] of sockets.uploadStats.refused) this.inc({ channel: 'upload', reason: code }, n);
  } });
  new Counter({ name: 'fedrec_uploads_queued_total', help: 'Update uploads read and queued for the engine', registers: [registry], collect() { this.reset(); this.inc(sockets.uploadStats.queued); } });
  new Gauge({ name: 'fedrec_upload_buffer_bytes', help: 'Bytes of upload bodies in memory now (being read or waiting for the engine)', registers: [registry], collect() { this.set(sockets.uploadBuffer.used); } });
  new Gauge({ name: 'fedrec_upload_buffer_peak_bytes', help: 'Most bytes of upload bodies in memory at once since start', registers: [registry], collect() { this.set(sockets.uploadBuffer.peak); } });
  new Gauge({ name: 'fedrec_uploads_waiting', help: 'Uploads waiting, unread, for room in the upload buffer', registers: [registry], collect() { this.set(sockets.uploadBuffer.waiting); } });
  new Gauge({ name: 'fedrec_work_queue_length', help: 'Updates and reports waiting for the engine', registers: [registry], collect() { this.set(sockets.work.length); } });
  new Gauge({ name: 'fedrec_round_duration_seconds', help: 'Duration of the last committed round', registers: [registry], collect() { this.set(s.lastRoundSeconds); } });
  new Gauge({ name: 'fedrec_commit_latency_ms', help: 'Milliseconds from the last accepted update to the committed model, last round', registers: [registry], collect() { this.set(s.lastCommitMs); } });
  new Counter({ name: 'fedrec_update_bytes_received_total', help: 'Payload bytes of accepted updates', registers: [registry], collect() { this.reset(); this.inc(s.bytesIn); } });
  new Counter({ name: 'fedrec_model_bytes_sent_total', help: 'Model bytes served over HTTP', registers: [registry], collect() { this.reset(); this.inc(bytesOut()); } });
  // Only under DP: an unset gauge would print 0, and ε = 0 would claim perfect privacy.
  if (engine.privacyStatus().mode !== 'central') return registry;
  const privacy = (pick: (p: ReturnType<RoundEngine['privacyStatus']>) => number | null) =>
    function (this: Gauge) {
      this.set(pick(engine.privacyStatus()) ?? Number.NaN);
    };
  new Gauge({ name: 'fedrec_privacy_epsilon', help: 'Privacy spent: epsilon of all charged rounds at the configured delta (central DP only)', registers: [registry], collect: privacy((p) => p.epsilon) });
  new Gauge({ name: 'fedrec_privacy_target_epsilon', help: 'Privacy budget: training stops before exceeding it', registers: [registry], collect: privacy((p) => p.targetEpsilon) });
  new Gauge({ name: 'fedrec_privacy_rounds_charged', help: 'Rounds charged to the privacy accountant', registers: [registry], collect: privacy((p) => p.rounds) });
  new Gauge({ name: 'fedrec_privacy_clip_norm', help: 'Clip norm of the next round (central DP)', registers: [registry], collect: privacy((p) => p.clip) });
  return registry;
}
