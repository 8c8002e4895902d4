/**
 * Whether a machine may start with the secret and TLS files it has: loopback-only
 * configs keep working with no set-up (their first start inits), any other host
 * needs a strong secret and the TLS files, and a refusal says why in one line.
 */
import t from 'tap';
import { DEFAULT_SECRET, isLoopbackHost, transportVerdict, type TransportFacts } from '../../lib/common/transport-security';

const STRONG = 'k'.repeat(43); // what fbs init writes: 32 bytes in base64url
const LOOPBACK = ['127.0.0.1', '127.0.0.1', 'localhost'];
const REAL = ['10.0.0.1', '10.0.0.2', 'chat3.example'];

function facts(over: Partial<TransportFacts>): TransportFacts {
  return { hosts: REAL, tls: true, secret: STRONG, missing: [], tlsDirExists: true, ...over };
}

t.test('loopback hosts', async (t) => {
  for (const h of ['127.0.0.1', '127.5.6.7', 'localhost', 'LOCALHOST', '::1', '[::1]']) t.ok(isLoopbackHost(h), h);
  for (const h of ['10.0.0.1', '0.0.0.0', '::', 'chat.example', '127.example', '128.0.0.1', '::ffff:10.0.0.1']) t.notOk(isLoopbackHost(h), h);
});

t.test('a loopback config starts with the default secret; its first start inits TLS', async (t) => {
  t.same(transportVerdict(facts({ hosts: LOOPBACK, secret: DEFAULT_SECRET })), { action: 'start' });
  t.same(transportVerdict(facts({ hosts: LOOPBACK, secret: '', missing: ['tls/ca.crt'], tlsDirExists: false })), { action: 'init' });
  t.same(transportVerdict(facts({ hosts: LOOPBACK, tls: false, secret: '', missing: ['tls/ca.crt'], tlsDirExists: false })), { action: 'start' }, 'plaintext allowed on loopback');
});

t.test('a loopback TLS dir with files missing is never replaced by a start', async (t) => {
  const v = transportVerdict(facts({ hosts: LOOPBACK, missing: ['tls/m2.key'], tlsDirExists: true }));
  t.equal(v.action, 'refuse');
  t.match(v.action === 'refuse' && v.reason, /TLS files missing: tls\/m2\.key .*fbs init --force/);
});

t.test('a config with a non-loopback machine refuses a weak secret, naming the host', async (t) => {
  const cases: [string, RegExp][] = [
    ['', /secret is empty and machine host 10\.0\.0\.1 is not loopback: run fbs init/],
    [DEFAULT_SECRET, /well-known default/],
    ['x'.repeat(31), /secret is 31 bytes, fewer than 32/],
    ['é'.repeat(15), /secret is 30 bytes/], // bytes, not characters
  ];
  for (const [secret, why] of cases) {
    const v = transportVerdict(facts({ secret }));
    t.equal(v.action, 'refuse', JSON.stringify(secret));
    t.match(v.action === 'refuse' && v.reason, why);
  }
  t.same(transportVerdict(facts({ secret: 'x'.repeat(32) })), { action: 'start' }, '32 bytes is enough');
  const one = transportVerdict(facts({ hosts: ['127.0.0.1', '127.0.0.1', '192.168.1.9'], secret: DEFAULT_SECRET }));
  t.match(one.action === 'refuse' && one.reason, /machine host 192\.168\.1\.9 is not loopback/, 'one real host is enough to require set-up');
});

t.test('a config with a non-loopback machine refuses missing TLS files and plaintext, and never inits itself', async (t) => {
  const missing = transportVerdict(facts({ missing: ['/etc/ftchat/tls/ca.crt', '/etc/ftchat/tls/m2.key'], tlsDirExists: false }));
  t.equal(missing.action, 'refuse', 'each machine making its own CA would split the cluster');
  t.match(missing.action === 'refuse' && missing.reason, /TLS files missing: \/etc\/ftchat\/tls\/ca\.crt, \/etc\/ftchat\/tls\/m2\.key; .*run fbs init on one machine and copy/);
  const plain = transportVerdict(facts({ tls: false }));
  t.match(plain.action === 'refuse' && plain.reason, /"tls": false is allowed on loopback only/);
});

t.test('every refusal is one line', async (t) => {
  for (const f of [facts({ secret: '' }), facts({ missing: ['a', 'b'] }), facts({ tls: false }), facts({ hosts: LOOPBACK, missing: ['a'] })]) {
    const v = transportVerdict(f);
    t.ok(v.action === 'refuse' && !v.reason.includes('\n'));
  }
});
