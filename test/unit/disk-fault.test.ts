import t from 'tap';
import { isDiskFault } from '../../lib/core/disk-fault';

t.test('full, over quota, out of descriptors or read-only are disk faults', async (t) => {
  for (const code of ['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EROFS']) t.ok(isDiskFault(Object.assign(new Error(code), { code })), code);
});

t.test('anything else is not (a failed fsync, a missing file, no error at all)', async (t) => {
  for (const code of ['EIO', 'ENOENT', 'EACCES', 42]) t.notOk(isDiskFault(Object.assign(new Error('x'), { code })), String(code));
  t.notOk(isDiskFault(null));
  t.notOk(isDiskFault(undefined));
  t.notOk(isDiskFault('ENOSPC'));
});
