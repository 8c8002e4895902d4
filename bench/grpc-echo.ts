/**
 * The transport's limit on this machine, in the same run: raw grpc-js unary round
 * trips between this process and an echo server in another process — many in
 * flight for the rate, then one at a time for the bare latency.
 */
import * as grpc from '@grpc/grpc-js';
import { ChildLink } from './child-link';
import { EchoClient } from './echo-service';
import { cpuClock, cpuPerUnit, nowMs, summarize, type CpuUse, type Summary } from './stats';

export interface EchoResult {
  inFlight: number;
  callsPerSec: number;
  /** Latency of one call at a time. */
  serialMs: Summary;
  cpu: CpuUse;
  /** CPU µs per call, client and server. */
  cpuUsPerCall: Record<string, number>;
}

const PAYLOAD = Buffer.alloc(64, 'x'); // about the size of a small post request

export async function measureEcho(opts: { inFlight: number; durationMs: number; serialCalls: number }): Promise<EchoResult> {
  const server = ChildLink.start('echo-server');
  const port = await server.request<number>('listen');
  const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const echo = (): Promise<void> =>
    new Promise((resolve, reject) => client.makeUnaryRequest('/bench.Echo/Echo', (b: Buffer) => b, (b: Buffer) => b, PAYLOAD, (err) => (err ? reject(err) : resolve())));
  try {
    const rate = async (ms: number): Promise<{ calls: number; perSec: number }> => {
      let calls = 0;
      const t0 = nowMs();
      const until = t0 + ms;
      await Promise.all(
        Array.from({ length: opts.inFlight }, async () => {
          while (nowMs() < until) {
            await echo();
            calls++;
          }
        }),
      );
      return { calls, perSec: calls / ((nowMs() - t0) / 1000) };
    };
    await rate(300); // warm up the connection and the JIT
    const meter = cpuClock({ client: [process.pid], server: [server.pid] });
    const { calls, perSec } = await rate(opts.durationMs);
    const cpu = meter.stop();
    const serial: number[] = [];
    for (let i = 0; i < opts.serialCalls; i++) {
      const t = nowMs();
      await echo();
      serial.push(nowMs() - t);
    }
    return { inFlight: opts.inFlight, callsPerSec: Math.round(perSec), serialMs: summarize(serial), cpu, cpuUsPerCall: cpuPerUnit(cpu, calls) };
  } finally {
    client.close();
    await server.stop();
  }
}
