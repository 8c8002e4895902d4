/** Reads a machine's /metrics as its Prometheus would (the console's posts/s and lag). */
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { readFileSync } from 'node:fs';
import { metricsUrl, type ClusterConfig } from '../common/config';
import { metricSamples } from '../common/metrics-text';
import { tlsFiles } from '../common/transport-security';

/** The machine's samples, or null when it does not answer within `timeoutMs`. */
export function scrapeMachine(config: ClusterConfig, machine: string, timeoutMs = 1_000): Promise<Map<string, number> | null> {
  const url = metricsUrl(config, machine);
  return new Promise((resolve) => {
    const done = resolve;
    const onResponse = (res: IncomingMessage): void => {
      if (res.statusCode !== 200) {
        res.resume();
        return done(null);
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => done(metricSamples(body)));
      res.on('error', () => done(null));
    };
    try {
      const req = config.metrics.tls ? httpsGet(url, { ca: readFileSync(tlsFiles(config.tlsDir).ca), timeout: timeoutMs }, onResponse) : httpGet(url, { timeout: timeoutMs }, onResponse);
      req.on('timeout', () => req.destroy());
      req.on('error', () => done(null));
    } catch {
      done(null); // no CA file here: this machine cannot check the endpoint
    }
  });
}
