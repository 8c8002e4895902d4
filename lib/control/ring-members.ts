/**
 * The members of a ring election (a machine's guardians) as one member sees them:
 * the ring order (the sorted ids), which member may open which term, and which
 * members it takes as dead, so that its messages go to the next one it does not.
 * Pure: the failure detector's view comes in through setAlive().
 */
export class RingMembers {
  /** Sorted: the ring order. */
  readonly ids: readonly string[];
  /** This member's place in the ring order (its rank). */
  readonly index: number;
  private readonly dead = new Set<string>();

  constructor(readonly self: string, members: readonly string[]) {
    const ids = ringOrder(members);
    if (ids.length === 0) throw new Error('ring election: the ring needs at least one member');
    if (new Set(ids).size !== ids.length) throw new Error(`ring election: member ids must be distinct (got ${ids.join(', ')})`);
    this.index = ids.indexOf(self);
    if (this.index < 0) throw new Error(`ring election: self "${self}" is not a member (${ids.join(', ')})`);
    this.ids = ids;
  }

  has(id: string): boolean {
    return this.ids.includes(id);
  }

  /** The failure detector's view of a member: messages route around the dead ones. This member is never dead to itself. */
  setAlive(member: string, alive: boolean): void {
    if (!this.has(member)) throw new Error(`ring election: "${member}" is not a member (${this.ids.join(', ')})`);
    if (alive || member === this.self) this.dead.delete(member);
    else this.dead.add(member);
  }

  deadMembers(): string[] {
    return [...this.dead].sort();
  }

  /** The next member in ring order not taken as dead; self when no other is alive. */
  nextLive(): string {
    const n = this.ids.length;
    for (let step = 1; step < n; step++) {
      const m = this.ids[(this.index + step) % n];
      if (!this.dead.has(m)) return m;
    }
    return this.self;
  }

  /** Whether `origin` may open `term`. */
  owns(origin: string, term: number): boolean {
    return ownerOfTerm(this.ids, term) === origin;
  }

  /** The smallest term above `current` this member may open. */
  nextOwnedTerm(current: number): number {
    return nextOwnedTerm(current, this.index, this.ids.length);
  }
}

/** The members in ring order. */
export function ringOrder(members: readonly string[]): string[] {
  return [...members].sort();
}

/** The member that may open `term` (terms start at 1): member i of n owns the terms t with (t - 1) mod n = i. */
export function ownerOfTerm(sortedMembers: readonly string[], term: number): string | undefined {
  return term >= 1 ? sortedMembers[(term - 1) % sortedMembers.length] : undefined;
}

/** The smallest term above `current` that member `index` of `n` owns. */
export function nextOwnedTerm(current: number, index: number, n: number): number {
  return current + 1 + ((((index - current) % n) + n) % n);
}
