/**
 * Names (users, which are also rooms) interned once per process to dense ids:
 * the follow graph, the room directory and the room files' offsets all hold the
 * same string objects and index by the same ids, where each once held its own
 * copy of 100,000 names. Ids only grow, so anything indexed by them stays valid.
 * In a checkpoint the table is one block of names joined by newlines (no name
 * holds one), decoded with one string conversion and a split. Pure.
 */
export class NameTable {
  private readonly list: string[];
  private readonly ids = new Map<string, number>();

  /** `names` is taken over, not copied; a repeated name is refused. */
  constructor(names: string[] = []) {
    this.list = names;
    for (let i = 0; i < names.length; i++) this.ids.set(names[i], i);
    if (this.ids.size !== names.length) throw new Error('name table: a name appears twice');
  }

  get size(): number {
    return this.list.length;
  }

  id(name: string): number | undefined {
    return this.ids.get(name);
  }

  /** The name's id, adding it if new. */
  intern(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.list.length;
      this.list.push(name);
      this.ids.set(name, id);
    }
    return id;
  }

  /** The table's own string for a name (interned): holding it costs no second copy. */
  canonical(name: string): string {
    return this.list[this.intern(name)];
  }

  name(id: number): string {
    return this.list[id];
  }

  /** The first `count` names (all by default). */
  slice(count = this.list.length): string[] {
    return this.list.slice(0, count);
  }
}

/** Names as one block for a checkpoint. */
export function encodeNames(names: readonly string[]): Buffer {
  if (names.some((n) => n.includes('\n'))) throw new Error('name table: a name holds a newline');
  return Buffer.from(names.join('\n'));
}

/** The `count` names a block holds; throws if it holds another number. */
export function decodeNames(block: Buffer, count: number): string[] {
  const names = count === 0 ? [] : block.toString('utf8').split('\n');
  if (names.length !== count || (count === 0 && block.length > 0)) throw new Error(`holds ${names.length} names, not ${count}`);
  return names;
}
