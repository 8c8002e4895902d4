/**
 * A machine's Prometheus endpoint: GET /metrics on metrics.host:metricsPort, plain
 * HTTP by default (loopback), https with the machine's certificate when metrics.tls.
 * Served by the machine's primary; what it returns is `collect`'s.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { ClusterConfig } from './config';
import { errorMessage, type Logger } from './log';
import { METRICS_CONTENT_TYPE } from './metrics';
import { metricsTlsOptions } from './transport-security';

export interface MetricsEndpoint {
  close(): Promise<void>;
}

/** Serves /metrics; a port that cannot be bound is logged, not fatal (the machine serves chat without it). */
export async function serveMetrics(config: ClusterConfig, machine: string, collect: () => Promise<string>, log: Logger): Promise<MetricsEndpoint> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => void answer(req, res, collect, log);
  const server: Server = config.metrics.tls ? createHttpsServer(metricsTlsOptions(config, machine), handler) : createHttpServer(handler);
  const { host } = config.metrics;
  const port = config.machines[machine].metricsPort;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    log.info('serving metrics', { address: `${host}:${port}` });
  } catch (err) {
    log.warn(`cannot serve metrics on ${host}:${port}: ${errorMessage(err)}`);
  }
  return {
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections(); // a scraper's keep-alive connection would hold the close
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, collect: () => Promise<string>, log: Logger): Promise<void> {
  if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
    return;
  }
  try {
    const body = await collect();
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(body);
  } catch (err) {
    log.warn(`a metrics scrape failed: ${errorMessage(err)}`);
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${errorMessage(err)}\n`);
  }
}
