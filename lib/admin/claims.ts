/**
 * `fbs claims <name> --machine <id>`: every claim of a name a machine holds (each
 * create event of every spelling of it, names being unique without regard to case),
 * which machine made it (its origin's), when by its own clock, its key, whether it
 * carries a valid proof and whose votes, and which one is the room's key
 * (core/room-key.ts). Read-only, from the room files; so an operator sees what a
 * stolen machine claimed (docs/security.md).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { ChatEvent } from '../core/event';
import { fingerprint, parseKeyText } from '../core/identity';
import { foldName } from '../core/name-ballot';
import { decodeProof } from '../core/name-proof';
import { parseRoomLog } from '../core/room-log';
import { choiceOf, decide, type Choice } from '../core/room-key';
import { proofTrust } from '../common/name-trust';
import type { ClusterConfig } from '../common/config';
import { machineDirOf, machinePath } from '../storage/data-dir';
import { machineOfOrigin } from '../core/origins';
import { provedBy } from '../storage/room-keys';

export interface NameClaim {
  room: string;
  /** The key's fingerprint; null for a create without a key (a room from before keys). */
  key: string | null;
  origin: string;
  seq: number;
  /** The machine whose writer stored it first. */
  madeBy: string;
  /** Its timestamp's wall clock, as the stamping machine said. */
  at: string;
  proof: 'valid' | 'invalid' | 'none';
  /** The machines a proof names (valid or not). */
  voters: string[];
  /** This create decides the room's key. */
  decides: boolean;
}

/** The claims of `name` (every spelling) held by `machine`, in each room's order of creates as stored. */
export async function nameClaims(config: ClusterConfig, machine: string, name: string): Promise<NameClaim[]> {
  const roomsDir = machinePath(machineDirOf(config.dataDir, machine), 'rooms');
  const files = (await fs.readdir(roomsDir).catch(() => [] as string[])).filter((f) => f.endsWith('.jsonl') && foldName(f.slice(0, -6)) === foldName(name)).sort();
  const proved = provedBy(proofTrust(config));
  const out: NameClaim[] = [];
  for (const file of files) {
    const creates = parseRoomLog(await fs.readFile(join(roomsDir, file))).events.filter((e) => e.kind === 'create');
    let deciding: Choice | null = null;
    for (const e of creates) deciding = decide(deciding, e, proved, choiceOf);
    for (const e of creates) out.push(claimOf(e, deciding, proved));
  }
  return out;
}

function claimOf(e: ChatEvent, deciding: Choice | null, proved: (e: ChatEvent) => boolean): NameClaim {
  const raw = parseKeyText(e.text);
  return {
    room: e.room,
    key: raw ? fingerprint(raw) : null,
    origin: e.origin,
    seq: e.seq,
    madeBy: machineOfOrigin(e.origin),
    at: new Date(e.hlc.wall).toISOString(),
    proof: e.proof === undefined ? 'none' : proved(e) ? 'valid' : 'invalid',
    voters: decodeProof(e.proof)?.votes.map((v) => v.machine) ?? [],
    decides: deciding !== null && deciding.origin === e.origin && deciding.hlc.wall === e.hlc.wall && deciding.hlc.logical === e.hlc.logical,
  };
}

/** One line per claim, for a person. */
export function formatClaims(name: string, claims: NameClaim[]): string {
  if (claims.length === 0) return `no claims of ${name} here\n`;
  return claims
    .map((c) => {
      const proof = c.proof === 'none' ? 'no proof' : `${c.proof} proof (votes of ${c.voters.join(', ') || 'none'})`;
      const verdict = c.decides ? "the room's key" : c.key === null ? 'created before keys' : 'passed over';
      return `${c.room}  key ${c.key ?? '-'}  made by ${c.madeBy} (${c.origin} #${c.seq})  at ${c.at}  ${proof}  ${verdict}`;
    })
    .join('\n')
    .concat('\n');
}
