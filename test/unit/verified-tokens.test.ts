/**
 * A session's calls skip the token's HMAC once it was verified (lib/core/verified-tokens),
 * and the cache accepts nothing verifyToken would refuse: an expired token, another
 * cluster's, any token with a byte changed. It keeps at most its bound.
 */
import fc from 'fast-check';
import t from 'tap';
import { clusterKeys, mintToken, verifyToken } from '../../lib/core/identity';
import { VerifiedTokens } from '../../lib/core/verified-tokens';

const keys = clusterKeys('a cluster secret of at least thirty-two bytes');
const other = clusterKeys('another cluster secret of thirty-two bytes');
const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;

t.test('a verified token answers from the cache with the session verifyToken gives', async (t) => {
  const tokens = new VerifiedTokens(keys, HOUR);
  const token = mintToken(keys, { user: 'alice', key: 'fp', expiresAtMs: NOW + 1000 });
  const first = tokens.verify(token, NOW);
  t.same(first, verifyToken(keys, token, NOW, HOUR));
  t.equal(tokens.verify(token, NOW + 10), first, 'the same session, from the cache');
  t.equal(tokens.size, 1);
});

t.test('a cached token that expired is refused as verifyToken refuses it', async (t) => {
  const tokens = new VerifiedTokens(keys, HOUR);
  const token = mintToken(keys, { user: 'alice', key: 'fp', expiresAtMs: NOW + 1000 });
  t.type(tokens.verify(token, NOW), 'object');
  t.equal(tokens.verify(token, NOW + 1000), 'session expired');
  t.equal(tokens.size, 0, 'dropped');
});

t.test('what verifyToken refuses is refused and never kept', async (t) => {
  const tokens = new VerifiedTokens(keys, HOUR);
  const theirs = mintToken(other, { user: 'alice', key: 'fp', expiresAtMs: NOW + 1000 });
  t.equal(tokens.verify(theirs, NOW), 'bad session token', "another cluster's token");
  t.equal(tokens.verify(theirs, NOW), 'bad session token', 'again');
  t.equal(tokens.verify(undefined, NOW), 'bad session token');
  const token = mintToken(keys, { user: 'alice', key: 'fp', expiresAtMs: NOW + HOUR });
  t.type(tokens.verify(token, NOW), 'object');
  fc.assert(
    fc.property(fc.nat(token.length - 1), fc.integer({ min: 32, max: 126 }), (at, code) => {
      const bad = token.slice(0, at) + String.fromCharCode(code) + token.slice(at + 1);
      return bad === token || typeof tokens.verify(bad, NOW) === 'string';
    }),
  );
  t.equal(tokens.size, 1, 'only the good token is kept');
});

t.test('the cache keeps at most its bound, the oldest verified going first', async (t) => {
  const tokens = new VerifiedTokens(keys, HOUR, 2);
  const mint = (user: string): string => mintToken(keys, { user, key: 'fp', expiresAtMs: NOW + HOUR });
  for (const user of ['a', 'b', 'c']) tokens.verify(mint(user), NOW);
  t.equal(tokens.size, 2);
  t.same(tokens.verify(mint('a'), NOW), { user: 'a', key: 'fp', expiresAtMs: NOW + HOUR }, 'an evicted token still verifies');
});
