/**
 * One definition of a control character: what a post may not hold, and what is
 * shown as '?' wherever text reaches a terminal or an error line.
 */
import t from 'tap';
import fc from 'fast-check';
import { hasControlChars, withoutControlChars } from '../../lib/core/control-chars';
import { postTextError } from '../../lib/core/input-bounds';
import { printable } from '../../lib/core/usernames';
import { formatEvent } from '../../lib/client/format';

const isControl = (c: number): boolean => (c <= 0x1f && c !== 0x09) || (c >= 0x7f && c <= 0x9f);

t.test('C0 but the tab, DEL and C1 are control characters; nothing else is', async (t) => {
  for (let c = 0; c < 0x200; c++) t.equal(hasControlChars(String.fromCharCode(c)), isControl(c), `U+${c.toString(16).padStart(4, '0')}`);
  t.notOk(hasControlChars('tab\tand émoji 🙂 and \u202e'), 'tab, accents, astral and format characters are not');
});

t.test('the post check, the error echo and the client screen agree on every character', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: fc.integer({ min: 0, max: 0x2ff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 30 }), (s) => {
      const text = `x${s}`; // not blank
      const clean = withoutControlChars(text);
      t.notOk(hasControlChars(clean), 'nothing left to steer a terminal');
      t.equal(clean.length, text.length, 'one "?" per control character');
      t.equal(postTextError(text, 1000) !== null, hasControlChars(text), 'a post is refused exactly when it holds one');
      t.equal(formatEvent({ kind: 'post', room: 'eve', author: 'eve', text }), `eve: ${clean}`, 'the client shows the same');
      const chars = [...clean];
      t.equal(printable(text), chars.length > 40 ? `${chars.slice(0, 40).join('')}...` : clean, 'an error line echoes the same');
    }),
    { numRuns: 300, seed: 13 },
  );
});
