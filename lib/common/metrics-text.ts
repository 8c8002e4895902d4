/** Prometheus text exposition read back (the console, tests): each sample as `name{labels}` -> value. */
export function metricSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1], Number(m[2]));
  }
  return samples;
}

/** The samples of `name` by the value of their `label` (e.g. per peer). */
export function byLabel(samples: Map<string, number>, name: string, label: string): Record<string, number> {
  const found: Record<string, number> = {};
  const re = new RegExp(`[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`);
  for (const [key, v] of samples) {
    const m = key.startsWith(`${name}{`) ? re.exec(key) : null;
    if (m) found[m[1]] = v;
  }
  return found;
}

/** The sum of every sample of `name`, whatever its labels (0 when there is none). */
export function sumOf(samples: Map<string, number>, name: string): number {
  let total = 0;
  for (const [key, v] of samples) if (key === name || key.startsWith(`${name}{`)) total += v;
  return total;
}
