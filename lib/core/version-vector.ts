/**
 * A version vector: the highest seq applied per origin. Because each origin's
 * events are applied in seq order, it says exactly which events a reader has, so
 * a stream can resume on any machine with no gap and no duplicate.
 */
export type VersionVector = Map<string, number>;

export function vectorFromRecord(rec: Record<string, number | string> | null | undefined): VersionVector {
  const v: VersionVector = new Map();
  for (const [origin, seq] of Object.entries(rec ?? {})) {
    const n = Number(seq);
    if (Number.isSafeInteger(n) && n > 0) v.set(origin, n);
  }
  return v;
}

export function vectorToRecord(v: VersionVector): Record<string, number> {
  const rec: Record<string, number> = {};
  for (const [origin, seq] of [...v].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) rec[origin] = seq;
  return rec;
}

/** Raises the vector to include (origin, seq). */
export function advance(v: VersionVector, origin: string, seq: number): void {
  if (seq > (v.get(origin) ?? 0)) v.set(origin, seq);
}

export function covers(v: VersionVector, origin: string, seq: number): boolean {
  return (v.get(origin) ?? 0) >= seq;
}
