/** Building events for tests of the pure protocol modules and the storage layer. */
import type { ChatEvent } from '../../lib/core/event';

/** An event with defaults for everything the test does not care about. */
export function ev(fields: Partial<ChatEvent> & { origin: string; seq: number }): ChatEvent {
  const kind = fields.kind ?? 'post';
  const author = fields.author ?? 'alice';
  return {
    id: fields.id ?? `${kind}/${author}/${fields.origin}-${fields.seq}`,
    kind,
    room: fields.room ?? author,
    author,
    text: fields.text ?? (kind === 'post' ? `text ${fields.origin}#${fields.seq}` : ''),
    hlc: fields.hlc ?? { wall: 1000 + fields.seq, logical: 0 },
    ...fields,
  };
}

/** A deterministic pseudo-random generator (mulberry32), so a failing shuffle can be replayed. */
export { rng } from '../../lib/chaos/rng';

/** A shuffled copy (Fisher-Yates driven by `random`). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
