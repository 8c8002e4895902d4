/**
 * cluster.json parsing: omitted keys take their defaults, and anything wrong is one
 * clear error naming the file and the key.
 */
import t from 'tap';
import fc from 'fast-check';
import { adminAddress, clientAddresses, ConfigError, parseConfig, peerAddress, ROOM_CACHE_DEFAULTS, LOG_DEFAULTS } from '../../lib/common/config';

const FILE = '/etc/ftchat/cluster.json';
const SECRET = 'a-long-random-secret-for-the-tests-0123456789';
const machine = (port: number) => ({ host: '127.0.0.1', port, adminPort: port + 50 });
const minimal = () => ({ machines: { m1: machine(50051), m2: machine(50052) }, secret: SECRET });

t.test('a minimal config takes every default', async (t) => {
  const c = parseConfig(minimal(), FILE);
  t.equal(c.file, FILE);
  t.same(c.machines.m1, { host: '127.0.0.1', port: 50051, adminPort: 50101, peerPort: 50151, metricsPort: 50251 }, 'peerPort defaults to port + 100, metricsPort to port + 200');
  t.same(c.metrics, { host: '127.0.0.1', tls: false }, 'metrics: plain HTTP on loopback');
  t.equal(c.dataDir, '/etc/ftchat/data', 'the data dir lies beside the file');
  t.equal(c.master, 'm1', 'the first machine is the master');
  t.same([c.workers, c.guardians, c.maxClockOffsetMs], [2, 2, 500]);
  t.same(c.timing, { heartbeatMs: 200, suspectAfterMs: 600, deadAfterMs: 1000, electionTimeoutMs: 1000, startupGraceMs: 1500 });
  t.same(c.limits, {
    maxPostChars: 1000,
    maxCausalLeadMs: 24 * 3600 * 1000,
    maxMessageBytes: 64 * 1024,
    historySize: 20,
    maxFollows: 1000,
    maxStreamsPerUser: 10,
    maxStreamsPerConnection: 100,
    maxStreamBacklogBytes: 1 << 20,
    maxSessionMs: 3_600_000,
  });
  t.same(c.quotas, { newUsersPerAddressPerMinute: 100, postsPerUserPerSecond: 20, requestsPerAddressPerSecond: 500, storageBytesPerUser: 100 * 1024 * 1024 });
  t.same(c.storage, { lockStaleMs: 2000, ...ROOM_CACHE_DEFAULTS, ...LOG_DEFAULTS });
});

t.test('given values are kept', async (t) => {
  const c = parseConfig(
    { ...minimal(), master: 'm2', workers: 4, dataDir: '../var', timing: { heartbeatMs: 50 }, quotas: { postsPerUserPerSecond: 50 }, storage: { cachedRooms: 7 } },
    FILE,
  );
  t.equal(c.master, 'm2');
  t.equal(c.workers, 4);
  t.equal(c.dataDir, '/etc/var', 'a relative data dir is resolved against the file');
  t.equal(c.timing.heartbeatMs, 50);
  t.equal(c.timing.deadAfterMs, 1000, 'the other timing keys keep their defaults');
  t.equal(c.quotas.postsPerUserPerSecond, 50);
  t.equal(c.storage.cachedRooms, 7);
  t.equal(parseConfig({ ...minimal(), machines: { m1: { ...machine(50051), peerPort: 6000 } } }, FILE).machines.m1.peerPort, 6000);
});

t.test('anything wrong is one line naming the file and the key', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['not an object', 'machines', /not a JSON object/],
    ['no machines', { secret: SECRET }, /"machines" must name at least one machine/],
    ['empty machines', { machines: {}, secret: SECRET }, /"machines" must name at least one machine/],
    ['a bad machine id', { ...minimal(), machines: { 'M/1': machine(50051) } }, /machine id "M\/1" must be 1-16 of \[a-z0-9_-\]/],
    ['no host', { ...minimal(), machines: { m1: { port: 50051, adminPort: 50101 } } }, /machines\.m1\.host must be a host name or address/],
    ['a port out of range', { ...minimal(), machines: { m1: machine(70000) } }, /machines\.m1\.port must be a port number/],
    ['no admin port', { ...minimal(), machines: { m1: { host: 'h', port: 50051 } } }, /machines\.m1\.adminPort must be a port number/],
    ['a peer port on the client port', { ...minimal(), machines: { m1: { ...machine(50051), peerPort: 50051 } } }, /machines\.m1\.peerPort must be a port number other than its port/],
    ['a metrics port on the peer port', { ...minimal(), machines: { m1: { ...machine(50051), metricsPort: 50151 } } }, /machines\.m1\.metricsPort must be a port number other than its port and peerPort/],
    ['metrics.tls not a boolean', { ...minimal(), metrics: { tls: 'yes' } }, /metrics\.tls must be true or false/],
    ['standby not a boolean', { ...minimal(), standby: 'no' }, /"standby" must be true or false/],
    ['a master that names no machine', { ...minimal(), master: 'm9' }, /"master" names no machine/],
    ['a fraction', { ...minimal(), workers: 1.5 }, /"workers" must be an integer >= 1/],
    ['a string number', { ...minimal(), limits: { maxFollows: '10' } }, /"limits\.maxFollows" must be an integer >= 1/],
    ['below a key\'s floor', { ...minimal(), storage: { lockStaleMs: 500 } }, /"storage\.lockStaleMs" must be an integer >= 2000/],
    ['a small message limit', { ...minimal(), limits: { maxMessageBytes: 100 } }, /"limits\.maxMessageBytes" must be an integer >= 1024/],
    ['a secret not a string', { machines: minimal().machines, secret: 42 }, /"secret" must be a string/],
  ];
  for (const [what, raw, message] of cases) {
    try {
      parseConfig(raw, FILE);
      t.fail(`${what}: accepted`);
    } catch (err) {
      t.ok(err instanceof ConfigError, `${what}: a ConfigError`);
      const text = (err as Error).message;
      t.match(text, message, what);
      t.ok(text.startsWith(`config ${FILE}: `) && !text.includes('\n'), `${what}: one line naming the file`);
    }
  }
});

t.test('whatever JSON it is given, it returns a config or throws a ConfigError, never anything else', async () => {
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), fc.record({ machines: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue()), secret: fc.jsonValue() }, { requiredKeys: [] })), (raw) => {
      try {
        parseConfig(raw, FILE);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
      }
    }),
    { numRuns: 500, seed: 13 },
  );
});

t.test('addresses: clients in config order, admin ports per guardian, the peer port', async (t) => {
  const c = parseConfig(minimal(), FILE);
  t.same(clientAddresses(c), ['127.0.0.1:50051', '127.0.0.1:50052']);
  t.equal(adminAddress(c, 'm2'), '127.0.0.1:50102');
  t.equal(adminAddress(c, 'm2', 1), '127.0.0.1:50104', 'guardian 1 at adminPort + 2');
  t.equal(peerAddress(c, 'm1'), '127.0.0.1:50151');
});
