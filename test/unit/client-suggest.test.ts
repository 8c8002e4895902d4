/** "Did you mean?": the closest command word to a typo, if it is near enough. */
import t from 'tap';
import { closestWord } from '../../lib/client/suggest';

const WORDS = ['join', 'leave', 'list', 'more', 'chat', 'help', 'quit'];

t.test('a swapped pair, a dropped, an extra or a wrong letter is one slip', async (t) => {
  t.equal(closestWord('jion', WORDS), 'join');
  t.equal(closestWord('lst', WORDS), 'list');
  t.equal(closestWord('joinn', WORDS), 'join');
  t.equal(closestWord('chst', WORDS), 'chat');
  t.equal(closestWord('QIUT', WORDS), 'quit', 'case does not count');
});

t.test('short words allow one slip, longer ones two', async (t) => {
  t.equal(closestWord('jn', WORDS), null, 'two slips in a 2-letter word: another word');
  t.equal(closestWord('laeev', WORDS), 'leave');
  t.equal(closestWord('frobnicate', WORDS), null);
});

t.test('a word that is a command is not a typo', async (t) => {
  t.equal(closestWord('join', WORDS), null);
});
