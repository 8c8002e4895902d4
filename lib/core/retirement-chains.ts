/**
 * The retirements a machine knows (retirements.ts), by the incarnation that
 * declared each, as chains: each follows the one its `prev` names. Pure.
 */
import { machineOfOrigin } from './origins';
import type { Retirement } from './retirements';
import type { VersionVector } from './version-vector';

export class RetirementChains {
  private readonly byId = new Map<string, Retirement>();
  /** Every retirement after the one it follows (cycles left out): computed on demand. */
  private orderCache: Retirement[] | null = null;

  add(r: Retirement): void {
    this.byId.set(r.by, r);
    this.orderCache = null;
  }

  has(by: string): boolean {
    return this.byId.has(by);
  }

  all(): Retirement[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * Per machine, the retirement whose chain (it and those before it) `v` holds up to
   * every final seq and that leaves the most origins out (those held at exactly their
   * final seq; one held past it, which only a forged retirement allows, stays in the
   * vector beside the marker). Choosing by what it leaves out, a retirement learned
   * later can only shrink a compacted vector. One pass over the table.
   */
  best(v: VersionVector): Map<string, string> {
    const leftOut = new Map<string, number>(); // per covered retirement
    const best = new Map<string, string>();
    for (const r of this.order()) {
      const before = this.byId.has(r.prev) ? leftOut.get(r.prev) : 0;
      if (before === undefined) continue; // it follows one not covered
      let n = before;
      let covered = true;
      for (const [origin, seq] of Object.entries(r.origins)) {
        const held = v.get(origin) ?? 0;
        if (held < seq) covered = false;
        else if (held === seq) n++;
      }
      if (!covered) continue;
      leftOut.set(r.by, n);
      const machine = machineOfOrigin(r.by);
      if (n > (leftOut.get(best.get(machine) ?? '') ?? 0)) best.set(machine, r.by);
    }
    return best;
  }


  /** The retirements a marker of `by` stands for: it and those before it (an unknown link ends the chain). */
  chainTo(by: string): Retirement[] {
    const out: Retirement[] = [];
    const seen = new Set<string>();
    for (let r = this.byId.get(by); r && !seen.has(r.by); r = this.byId.get(r.prev)) {
      seen.add(r.by);
      out.push(r);
    }
    return out;
  }


  /** Every retirement after the one it follows, if known; those on a cycle are left out. */
  private order(): Retirement[] {
    if (this.orderCache) return this.orderCache;
    const next = new Map<string, Retirement[]>();
    const order: Retirement[] = [];
    for (const r of this.byId.values()) {
      if (!this.byId.has(r.prev)) order.push(r);
      else if (next.has(r.prev)) next.get(r.prev)!.push(r);
      else next.set(r.prev, [r]);
    }
    for (let i = 0; i < order.length; i++) order.push(...(next.get(order[i].by) ?? []));
    return (this.orderCache = order);
  }
}
