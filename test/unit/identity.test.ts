/**
 * The pure parts of "users are keys": nonces and session tokens verify only for the
 * cluster, user and time they were made for, and any change to one of their bytes
 * is refused; the signed message is domain-separated; key texts from outside parse
 * only when well formed. Time and randomness are fed in.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import {
  bearerToken,
  clusterKeys,
  connectMessage,
  fingerprint,
  keyText,
  mintNonce,
  mintToken,
  NONCE_TTL_MS,
  nonceError,
  parseKeyText,
  rawPublicKey,
  verifySignature,
  TOKEN_CLOCK_SLACK_MS,
  verifyToken,
} from '../../lib/core/identity';

const keys = clusterKeys('a cluster secret of at least thirty-two bytes');
const other = clusterKeys('another cluster secret of thirty-two bytes');
const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;
const random = Buffer.alloc(16, 7);

function keyPair(): { raw: Buffer; sign: (m: Buffer) => Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { raw: rawPublicKey(publicKey.export({ format: 'der', type: 'spki' })), sign: (m) => sign(null, m, privateKey) };
}

/** `text` with one character changed to another of the same alphabet. */
function flip(text: string, at: number, by: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
  const i = at % text.length;
  const c = alphabet[(alphabet.indexOf(text[i]) + 1 + (by % (alphabet.length - 1))) % alphabet.length];
  return text.slice(0, i) + c + text.slice(i + 1);
}

t.test('a nonce verifies for its user on any machine of the cluster while fresh, and for nothing else', async (t) => {
  const n = mintNonce(keys, 'alice', random, NOW);
  t.equal(nonceError(keys, 'alice', n, NOW + 1000), null, 'fresh, for alice');
  t.equal(nonceError(keys, 'bob', n, NOW), 'nonce not issued to this user by this cluster', 'not for bob');
  t.equal(nonceError(other, 'alice', n, NOW), 'nonce not issued to this user by this cluster', 'not in another cluster');
  t.equal(nonceError(keys, 'alice', n, NOW + NONCE_TTL_MS + 1), 'nonce expired: ask for a new one', 'stale');
  t.equal(nonceError(keys, 'alice', n, NOW - 60_000), 'nonce expired: ask for a new one', 'from far in the future');
  for (const bad of ['', 'n1', 'n1..', 'x1.a.b', `${n}.x`, 'n1.' + 'A'.repeat(600), 42, null]) {
    t.equal(nonceError(keys, 'alice', bad, NOW), 'bad nonce', `malformed: ${String(bad).slice(0, 20)}`);
  }
});

t.test('a tampered nonce is refused, whichever character changes', async () => {
  const n = mintNonce(keys, 'alice', random, NOW);
  fc.assert(
    fc.property(fc.nat(), fc.nat(), (at, by) => {
      const bad = flip(n, at, by);
      return bad === n || nonceError(keys, 'alice', bad, NOW) !== null;
    }),
  );
});

t.test('a token names its user and key until it expires, on any machine with the secret', async (t) => {
  const token = mintToken(keys, { user: 'alice', key: 'fp', expiresAtMs: NOW + 1000 });
  t.same(verifyToken(keys, token, NOW, HOUR), { user: 'alice', key: 'fp', expiresAtMs: NOW + 1000 });
  t.equal(verifyToken(keys, token, NOW + 1000, HOUR), 'session expired');
  t.equal(verifyToken(other, token, NOW, HOUR), 'bad session token', "another cluster's secret");
  for (const bad of ['', 'v1', 'v1.e30.', 'v2.a.b', `${token}.x`, 'v1.' + 'A'.repeat(600) + '.b', undefined]) {
    t.equal(verifyToken(keys, bad, NOW, HOUR), 'bad session token', `malformed: ${String(bad).slice(0, 20)}`);
  }
  t.equal(bearerToken(`Bearer ${token}`), token);
  t.equal(bearerToken(token), null, 'the scheme is required');
  t.equal(bearerToken(Buffer.from('Bearer x')), null, 'a binary header is none');
});

t.test('a token that outlives the cluster\'s session cap is refused, whoever minted it with the secret', async (t) => {
  const tenYears = mintToken(keys, { user: 'alice', key: 'fp', expiresAtMs: NOW + 10 * 365 * 24 * HOUR });
  t.equal(verifyToken(keys, tenYears, NOW, HOUR), 'session lasts longer than this cluster allows', 'a 10-year token');
  const atCap = mintToken(keys, { user: 'alice', key: 'fp', expiresAtMs: NOW + HOUR + TOKEN_CLOCK_SLACK_MS });
  t.type(verifyToken(keys, atCap, NOW, HOUR), 'object', "the cap, from a machine whose clock leads ours by the slack");
  t.equal(verifyToken(keys, atCap, NOW - 1, HOUR), 'session lasts longer than this cluster allows', 'a millisecond more');
  t.equal(verifyToken(keys, atCap, NOW, 1000), 'session lasts longer than this cluster allows', 'a cluster configured for short sessions refuses an hour');
});

t.test('a tampered token is refused, whichever character changes', async () => {
  fc.assert(
    fc.property(fc.constantFrom('alice', 'bob.b', 'x'.repeat(32)), fc.nat(), fc.nat(), (user, at, by) => {
      const token = mintToken(keys, { user, key: 'AAAAAAAAAAAAAAAAAAAAAA', expiresAtMs: NOW + 3_600_000 });
      const bad = flip(token, at, by);
      return bad === token || typeof verifyToken(keys, bad, NOW, HOUR) === 'string';
    }),
  );
});

t.test('a token forged with a payload of its own choosing and no key is refused', async () => {
  fc.assert(
    fc.property(fc.string(), fc.base64String(), (payload, mac) => {
      const b = Buffer.from(payload).toString('base64url');
      return typeof verifyToken(keys, `v1.${b}.${mac}`, NOW, HOUR) === 'string';
    }),
  );
});

t.test("a signature verifies only over the domain-separated message, with the signer's key", async (t) => {
  const alice = keyPair();
  const mallory = keyPair();
  const n = mintNonce(keys, 'alice', random, NOW);
  const sig = alice.sign(connectMessage('alice', n));
  t.ok(verifySignature(alice.raw, connectMessage('alice', n), sig), "alice's key, alice's message");
  t.notOk(verifySignature(mallory.raw, connectMessage('alice', n), sig), 'another key');
  t.notOk(verifySignature(alice.raw, connectMessage('alicf', n), sig), 'another user');
  t.notOk(verifySignature(alice.raw, connectMessage('alice', mintNonce(keys, 'alice', random, NOW + 1)), sig), 'another nonce');
  t.notOk(verifySignature(alice.raw, connectMessage('alice', n), alice.sign(Buffer.from(n))), 'a signature of the bare nonce is none of the connect message');
  t.notOk(verifySignature(Buffer.alloc(32, 0xff), connectMessage('alice', n), sig), 'bytes that are no key');
  t.notOk(verifySignature(alice.raw.subarray(1), connectMessage('alice', n), sig), 'a short key');
  t.notOk(verifySignature(alice.raw, connectMessage('alice', n), sig.subarray(1)), 'a short signature');
  t.equal(connectMessage('alice', 'n1.x.y').toString(), 'ftchat-connect-v1\nalice\nn1.x.y', 'the documented bytes');
});

t.test('key texts: what a create event carries, parsed only when well formed', async (t) => {
  const { raw } = keyPair();
  t.same(parseKeyText(keyText(raw)), raw, 'round trip');
  t.equal(keyText(raw).length, 52, '"ed25519:" and 44 characters of base64');
  for (const bad of ['', 'ed25519:', `ed25519:${raw.subarray(1).toString('base64')}`, `ED25519:${raw.toString('base64')}`, `ed25519:${raw.toString('base64')} `, keyText(raw).replace('=', 'A'), null, 7]) {
    t.equal(parseKeyText(bad), null, `not a key: ${JSON.stringify(bad)}`);
  }
  fc.assert(fc.property(fc.string(), (s) => parseKeyText(s) === null || keyText(parseKeyText(s)!) === s));
  t.equal(fingerprint(raw), fingerprint(Buffer.from(raw)), 'a fingerprint is a function of the key');
  t.not(fingerprint(raw), fingerprint(keyPair().raw), 'and tells keys apart');
});
