/**
 * Every field from a client or a peer is bounded by what the wire, the clock and the
 * files carry: each at, just past and far past its limit.
 */
import tap from 'tap';
import { BOUNDED_METHODS, BOUNDS, chatRequestError, internalRequestError, peerEventError } from '../../lib/core/input-bounds';
import { ftchatProto } from '../../lib/common/proto';
import { MAX_LOGICAL } from '../../lib/core/hlc';
import type { ChatEvent } from '../../lib/core/event';
import { keyText } from '../../lib/core/identity';
const t = tap;

const NOW = 1_700_000_000_000;
const DAY = 24 * 3600 * 1000;
const limits = { maxPostChars: 1000, maxCausalLeadMs: DAY };
const chat = (method: string, req: object) => chatRequestError(method, req, limits, NOW);

t.test('a Post: user, id, text and causal timestamp each at and past their limit', async (t) => {
  const ok = { user: 'ann', id: 'a'.repeat(64), text: 'x'.repeat(1000), after: { wall: NOW + DAY, logical: MAX_LOGICAL } };
  t.equal(chat('Post', ok), null, 'every field at its limit passes');
  t.equal(chat('Post', { ...ok, id: '' }), null, 'no id: the server picks one');
  t.match(chat('Post', { ...ok, id: 'a'.repeat(65) }), /post id must be 1-64/);
  t.match(chat('Post', { ...ok, id: 'a/b' }), /post id/);
  t.match(chat('Post', { ...ok, text: 'x'.repeat(1001) }), /post too long: 1001 characters, the limit is 1000/);
  t.equal(chat('Post', { ...ok, text: '🌍'.repeat(1000) }), null, 'the limit counts characters, not UTF-16 units');
  t.match(chat('Post', { ...ok, text: '  ' }), /empty post/);
  t.match(chat('Post', { ...ok, text: 'a\nb' }), /one line/);
  t.match(chat('Post', { ...ok, user: 'a'.repeat(33) }), /at most 32/);
  t.match(chat('Post', { ...ok, user: '../x' }), /bad username/);
  t.match(chat('Post', { ...ok, after: { wall: NOW + DAY + 1, logical: 0 } }), /causal timestamp .* ahead of this server's clock/);
  t.match(chat('Post', { ...ok, after: { wall: 2 ** 53, logical: 0 } }), /wall time/);
  t.match(chat('Post', { ...ok, after: { wall: NOW, logical: MAX_LOGICAL + 1 } }), /logical counter must be 0..4294967295/);
  t.equal(chat('Post', { ...ok, after: { wall: 0, logical: 7 } }), null, 'a zero wall means no timestamp');
  t.equal(chat('Post', { ...ok, after: null }), null, 'no timestamp');
});

t.test('identity: Challenge and Connect name a user; Connect carries a 32-byte key, a nonce and a 64-byte signature', async (t) => {
  const ok = { user: 'ann', public_key: Buffer.alloc(32), nonce: 'n1.x.y', signature: Buffer.alloc(64) };
  t.equal(chat('Challenge', { user: 'ann' }), null);
  t.match(chat('Challenge', { user: '' }), /username is required/);
  t.equal(chat('Connect', ok), null);
  t.match(chat('Connect', { ...ok, user: '' }), /username is required/, 'Connect has no session to take the user from');
  t.match(chat('Connect', { ...ok, public_key: Buffer.alloc(31) }), /public key must be 32 bytes/);
  t.match(chat('Connect', { ...ok, signature: Buffer.alloc(0) }), /signature must be 64 bytes/);
  t.match(chat('Connect', { ...ok, nonce: '' }), /nonce from Challenge is required/);
  t.match(chat('Connect', { ...ok, nonce: 'n'.repeat(513) }), /nonce from Challenge is required/);
  t.equal(chat('Post', { user: '', text: 'hi' }), null, "a call with a session may leave the user out: it is the session's");
});

t.test('cursors: entry count, origin names and seqs', async (t) => {
  const seqs = (n: number, seq = 1) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`m1.x.w${i}`, seq]));
  t.equal(chat('Poll', { user: 'ann', cursor: { seqs: seqs(BOUNDS.maxCursorOrigins) } }), null, `${BOUNDS.maxCursorOrigins} origins pass`);
  t.match(chat('Poll', { user: 'ann', cursor: { seqs: seqs(BOUNDS.maxCursorOrigins + 1) } }), /1025 origins, at most 1024/);
  t.match(chat('Subscribe', { user: 'ann', cursor: { seqs: { ['a'.repeat(65)]: 1 } } }), /bad origin/);
  t.match(chat('Subscribe', { user: 'ann', cursor: { seqs: { '../etc': 1 } } }), /bad origin/);
  t.equal(chat('Subscribe', { user: 'ann', cursor: { seqs: seqs(1, Number.MAX_SAFE_INTEGER) } }), null, 'seq 2^53-1 passes');
  t.match(chat('Subscribe', { user: 'ann', cursor: { seqs: seqs(1, 2 ** 53) } }), /seq of .* must be 0..2\^53-1/);
  t.equal(chat('Subscribe', { user: 'ann', cursor: null }), null, 'no cursor');
});

t.test('joins, lists and the methods with only a user', async (t) => {
  t.equal(chat('Join', { user: 'ann', room: 'bob', after: null }), null);
  t.match(chat('Leave', { user: 'ann', room: '', after: null }), /room: a username is required/);
  t.equal(chat('List', { user: 'ann', prefix: 'b'.repeat(32), page_token: `o:${'b'.repeat(32)}`, limit: 2 ** 32 - 1 }), null);
  t.match(chat('List', { user: 'ann', prefix: 'b'.repeat(33), page_token: '' }), /bad prefix/);
  t.match(chat('List', { user: 'ann', prefix: '', page_token: 'x:bob' }), /bad page token/);
  t.match(chat('Connect', { user: '' }), /a username is required/);
  t.match(chat('Timeline', { user: '-x' }), /bad username/);
});

t.test('internal requests: ids, terms, roles, slots and pids', async (t) => {
  t.match(internalRequestError('Elect', { kind: 'coup', term: 1, candidate: 'm1.g0', origin: 'm1.g0' }), /election kind/);
  t.match(internalRequestError('Elect', { kind: 'election', term: 2 ** 53, candidate: 'm1.g0', origin: 'm1.g0' }), /term/);
  t.equal(internalRequestError('Elect', { kind: 'elected', term: 9, candidate: 'm1.g1', origin: '' }), null);
  t.match(internalRequestError('Revive', { role: 'master', slot: 0, pid: 0 }), /role/);
  t.match(internalRequestError('Revive', { role: 'worker', slot: 1025, pid: 0 }), /slot/);
  t.match(internalRequestError('Pull', { from: 'm2', vector: { seqs: { 'm1.x.w0': -1 } } }), /vector: seq/);
  t.match(internalRequestError('Watch', { from: 'm1.g0', pid: 2 ** 31, term: 1 }), /pid/, 'a beat on a Watch stream too');
  t.equal(internalRequestError('Status', {}), null, 'no fields, nothing to check');
});

t.test('a peer\'s event: the shape its kind has when our own writers make it', async (t) => {
  const post: ChatEvent = { id: 'post/ann/c1', origin: 'm2.x.w0', seq: 1, kind: 'post', room: 'ann', author: 'ann', text: 'hi', hlc: { wall: NOW, logical: 0 } };
  const peer = (e: Partial<ChatEvent>) => peerEventError({ ...post, ...e }, limits, NOW);
  t.equal(peer({}), null, 'a post as a worker writes it');
  t.match(peer({ room: 'bob' }), /bad post id|room must be its author/, "a post in another user's room");
  t.match(peer({ id: 'post/bob/c1' }), /bad post id/, "an id in another author's namespace");
  t.match(peer({ text: 'x'.repeat(1001) }), /post too long/);
  t.match(peer({ hlc: { wall: NOW, logical: MAX_LOGICAL + 1 } }), /logical counter/);
  t.match(peer({ hlc: { wall: NOW + 2 * DAY + 1, logical: 0 } }), /ahead of this machine's clock/);
  t.equal(peer({ hlc: { wall: NOW + 2 * DAY, logical: 0 } }), null, 'a client lead plus a machine lead passes');
  t.equal(peer({ kind: 'create', id: 'create/ann', text: '' }), null);
  t.match(peer({ kind: 'create', id: 'create/bob', text: '' }), /bad create id/);
  t.match(peer({ kind: 'create', id: 'create/ann', text: 'x' }), /must be its owner's key/);
  t.equal(peer({ kind: 'create', id: 'create/ann', text: keyText(Buffer.alloc(32, 1)) }), null, 'a create carries its owner key');
  const join = { kind: 'join' as const, id: 'join/ann/bob/0b8e1c2a-7f1e-4c1d-9d55-0a1b2c3d4e5f', room: 'bob', text: '' };
  t.equal(peer(join), null);
  t.match(peer({ ...join, id: 'join/ann/carl/0b8e' }), /bad join id/);
  t.match(peer({ ...join, kind: 'leave' }), /bad leave id/);
  t.match(peer({ ...join, room: 'ann', id: 'join/ann/ann/u1' }), /cannot join its own room/);
});

tap.test('every RPC of the proto has input bounds, and a method without them is refused', async (t) => {
  const { ftchat } = ftchatProto();
  const methods = (service: { service: object }): string[] => Object.keys(service.service);
  t.same(methods(ftchat.Chat).filter((m) => !BOUNDED_METHODS.chat.includes(m)), [], 'every Chat RPC');
  t.same([...methods(ftchat.Admin), ...methods(ftchat.Replication)].filter((m) => !BOUNDED_METHODS.internal.includes(m)), [], 'every Admin and Replication RPC');
  t.match(chat('Shout', { user: 'alice' }), /Shout has no input bounds/);
  t.match(internalRequestError('Shout', {}), /Shout has no input bounds/);
  t.match(chat('toString', {}), /no input bounds/, 'not even what every object has');
});
