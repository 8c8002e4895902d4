/**
 * Whether every server of the client's list has refused its connection outright
 * (nothing listens there: ECONNREFUSED, or no route to the host), each for a
 * while. Then no cluster is running where the client looks, and waiting out the
 * whole failover budget would only be silence: the client says so at once.
 * A server that times out or answers is not refusing (it may be busy or starting),
 * so it resets. Pure: fed outcomes and times. Separate from how often the client
 * retries (the failover schedule), which only decides when outcomes arrive.
 */

/** grpc-js's UNAVAILABLE details when the connection itself was refused. */
const REFUSED = /\b(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH)\b/;

export function isConnectionRefused(details: string): boolean {
  return REFUSED.test(details);
}

export class RefusedServers {
  /** Per server: when its current run of refusals began. */
  private readonly since = new Map<string, number>();

  constructor(
    private readonly servers: readonly string[],
    /** How long each server must have refused before the client gives up. */
    private readonly forMs: number,
  ) {}

  record(server: string, refused: boolean, nowMs: number): void {
    if (!refused) this.since.delete(server);
    else if (!this.since.has(server)) this.since.set(server, nowMs);
  }

  /** Every server has refused every attempt for at least `forMs`. */
  all(nowMs: number): boolean {
    return this.servers.every((s) => {
      const t = this.since.get(s);
      return t !== undefined && nowMs - t >= this.forMs;
    });
  }
}
