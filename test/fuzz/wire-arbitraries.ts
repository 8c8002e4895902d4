/**
 * fast-check arbitraries for raw request bytes, driven by protos/ftchat.proto: every
 * field of every request type gets plausible values (known users, valid ids, the
 * current time), edge values (each bound at, just past and far past its limit, the
 * top of uint32 and of uint64), random values and garbage (invalid UTF-8, wrong
 * wire types, a whole message of random bytes).
 */
import fc from 'fast-check';
import * as protobuf from 'protobufjs';
import { PROTO_FILE } from '../../lib/common/proto';
import { BOUNDS } from '../../lib/core/input-bounds';
import { encode, type Field } from '../helpers/raw-grpc';

export interface WirePools {
  /** Names of users that exist, and of the machines' processes, so requests reach past the first check. */
  users: string[];
  ids: string[];
  origins: string[];
}

export function protoRoot(): protobuf.Root {
  const root = protobuf.loadSync(PROTO_FILE);
  root.resolveAll();
  return root;
}

const DAY = 24 * 3600 * 1000;

/** Each length at, just past and far past a bound: usernames, ids and origins, posts, page tokens, message size. */
const EDGE_LENGTHS = [0, 1, 32, 33, 34, 35, 64, 65, 1000, 1001, 4000, 70_000];

function plausibleStringArb(pools: WirePools): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...pools.users, ...pools.ids, ...pools.origins, '', 'f:', `o:${pools.users[0]}`, 'election', 'elected', 'worker', 'replicator'),
    fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/),
  );
}

function stringArb(pools: WirePools): fc.Arbitrary<string | Buffer> {
  const plausible = plausibleStringArb(pools);
  const edge = fc.oneof(
    fc.tuple(fc.constantFrom(...EDGE_LENGTHS), fc.constantFrom('a', '🌍', '.', '/', '\n', '\u0000', 'é')).map(([n, c]) => c.repeat(n)),
    fc.constantFrom('..', '../etc/passwd', '.hidden', '-dash', 'a/b', 'f:../x', 'o:\u0000', 'x:y', '  ', '\t', 'a\nb', '\u202e'),
  );
  const random = fc.string({ unit: 'grapheme', maxLength: 80 });
  const garbage = fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)); // mostly invalid UTF-8
  return fc.oneof({ arbitrary: plausible, weight: 5 }, { arbitrary: edge, weight: 3 }, { arbitrary: random, weight: 1 }, { arbitrary: garbage, weight: 1 });
}

/** Varints a real client sends: small counts, a logical counter anywhere in uint32, and in 64-bit fields times near now. */
function plausibleVarintArb(wide = true): fc.Arbitrary<bigint> {
  const now = BigInt(Date.now());
  return fc.oneof(fc.bigInt({ min: 0n, max: 50n }), fc.constantFrom(2n ** 32n - 1n, ...(wide ? [now, now + 1000n, now - 60_000n] : [])));
}

/** Varints: the edges of every integer type, times near now (timestamps), small counts, and any 64-bit value. */
function varintArb(): fc.Arbitrary<bigint> {
  const now = BigInt(Date.now());
  const edges = [0n, 1n, 2n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
  const times = [now, now + 60_000n, now - 60_000n, now + BigInt(DAY), now + BigInt(DAY) + 1n, now + BigInt(3 * DAY), now * 1000n];
  return fc.oneof(
    fc.constantFrom(...edges, ...times),
    fc.bigInt({ min: 0n, max: 1025n }),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  );
}

/** A map<string, uint64> (a version vector): a few entries, or the entry bound at, just past and far past. */
function mapArb(pools: WirePools, wild: boolean): fc.Arbitrary<Field[]> {
  const entry = (wild ? fc.tuple(fc.oneof(fc.constantFrom(...pools.origins), stringArb(pools)), varintArb()) : fc.tuple(fc.constantFrom(...pools.origins), plausibleVarintArb())).map(
    ([k, v]): Field => [1, [[1, k], [2, v]]],
  );
  const few = fc.array(entry, { maxLength: 5 });
  const many = fc.constantFrom(BOUNDS.maxCursorOrigins, BOUNDS.maxCursorOrigins + 1, 3000).map((n) =>
    Array.from({ length: n }, (_, i): Field => [1, [[1, `m1.fz.w${i}`], [2, 1]]]),
  );
  return wild ? fc.oneof({ arbitrary: few, weight: 9 }, { arbitrary: many, weight: 1 }) : few;
}

/** A field's value; a wild one may have another wire type than its own (a string where a number belongs, and back). */
function fieldArb(field: protobuf.Field, pools: WirePools, wild: boolean, depth: number): fc.Arbitrary<Field[]> {
  const id = field.id;
  const one = (arb: fc.Arbitrary<Field[1]>): fc.Arbitrary<Field[]> => arb.map((v): Field[] => [[id, v]]);
  if (field.map) return mapArb(pools, wild).map((entries) => entries.map(([, v]): Field => [id, v]));
  if (field.resolvedType instanceof protobuf.Type) {
    return depth > 2 ? fc.constant([]) : one(messageFieldsArb(field.resolvedType, pools, wild, depth + 1));
  }
  const text = field.type === 'string' || field.type === 'bytes';
  if (!wild) return one(text ? plausibleStringArb(pools) : plausibleVarintArb(field.type.endsWith('64')));
  const own = text ? stringArb(pools) : varintArb();
  const other = text ? varintArb() : stringArb(pools);
  return fc.oneof({ arbitrary: one(own), weight: 19 }, { arbitrary: one(other), weight: 1 });
}

function messageFieldsArb(type: protobuf.Type, pools: WirePools, wild: boolean, depth = 0): fc.Arbitrary<Field[]> {
  // Each field may be left out (its default), as a real client does.
  const fields = type.fieldsArray.map((f) => fc.option(fieldArb(f, pools, wild, depth), { freq: wild ? 4 : 8, nil: [] as Field[] }));
  return fc.tuple(...fields).map((parts) => parts.flat());
}

/** A request of `type` as bytes: plausible (reaching past the checks), well-formed with wild values, or random bytes. */
export function requestBytesArb(type: protobuf.Type, pools: WirePools): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { arbitrary: messageFieldsArb(type, pools, false).map(encode), weight: 9 },
    { arbitrary: messageFieldsArb(type, pools, true).map(encode), weight: 10 },
    { arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), weight: 1 },
  );
}
