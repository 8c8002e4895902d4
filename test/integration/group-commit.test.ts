/**
 * Group commit (lib/storage/group-commit): drafts that reach a writer together are
 * written by one commit, under one take of the room lock and one fsync of the
 * write-ahead log, with dense seqs (in submission order within each room).
 */
import t from 'tap';
import { join } from 'node:path';
import { postEventId } from '../../lib/core/event';
import type { Commit } from '../../lib/storage/group-commit';
import { openJournal, range1, tempDir } from '../helpers/storage';

t.test('posts submitted in one turn of the event loop are written by one commit', async (t) => {
  const { journal } = await openJournal(join(tempDir(t), 'm1'), 'w0');
  const commits: Commit[] = [];
  journal.listeners.onCommitted((c) => commits.push(c));
  const rooms = ['ann', 'bob', 'cy', 'dee'];
  const stored = await Promise.all(
    range1(20).map((n) => {
      const room = rooms[n % rooms.length];
      return journal.submit({ id: postEventId(room, `p${n}`), kind: 'post', room, author: room, text: `post ${n}` });
    }),
  );
  t.equal(commits.length, 1, 'one commit for the twenty');
  t.same(stored.map((e) => e.seq).sort((a, b) => a - b), range1(20), 'dense seqs');
  for (const room of rooms) {
    const seqs = stored.filter((e) => e.room === room).map((e) => e.seq);
    t.same(seqs, [...seqs].sort((a, b) => a - b), `${room}'s posts in the order they were submitted`);
  }
  t.same(commits[0].upTo, { w0: 20 });
  t.same([...commits[0].rooms].sort(), [...rooms].sort());
});
