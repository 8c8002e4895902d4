/** fbc's -s option: servers in order of preference. */
import t from 'tap';
import { parseServerList, ServerListError } from '../../lib/client/server-list';

t.test('-s keeps the given order and drops repeats and blanks', async (t) => {
  t.same(parseServerList('127.0.0.1:50052, 127.0.0.1:50051,,127.0.0.1:50052'), ['127.0.0.1:50052', '127.0.0.1:50051']);
  t.same(parseServerList('host-a.example:1,[::1]:50051'), ['host-a.example:1', '[::1]:50051']);
});

t.test('a bad address is refused with a clear message', async (t) => {
  for (const bad of ['localhost', 'a:0', 'a:70000', 'a:b', ':50051', 'a b:1']) {
    let caught: unknown;
    try {
      parseServerList(bad);
    } catch (err) {
      caught = err;
    }
    t.type(caught, ServerListError, bad);
  }
  t.throws(() => parseServerList(' , '), { message: '-s needs at least one host:port' });
  t.throws(() => parseServerList('x'), { message: "bad server address 'x': expected host:port" });
});
