/**
 * Usernames name rooms and room files, so they are checked before anything else
 * sees them: 1-32 of [A-Za-z0-9_.-], not starting with '.' or '-'. No path
 * separator or '..' can pass, so no name can reach outside the data folder.
 */
import { withoutControlChars } from './control-chars';

export const MAX_USERNAME_CHARS = 32;
const USERNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;

export function usernameError(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'a username is required';
  if (name.length > MAX_USERNAME_CHARS) return `bad username '${printable(name)}': at most ${MAX_USERNAME_CHARS} characters`;
  if (!USERNAME.test(name)) {
    return `bad username '${printable(name)}': use letters, digits, '_', '.', '-', not starting with '.' or '-'`;
  }
  return null;
}

export function isUsername(name: unknown): name is string {
  return usernameError(name) === null;
}

/** For echoing untrusted input inside an error line: no control characters, bounded length. */
export function printable(v: unknown): string {
  const clean = withoutControlChars(String(v));
  // Cut by characters: half a surrogate pair in a status message made grpc-js answer UNKNOWN.
  const chars = [...clean];
  return chars.length > 40 ? `${chars.slice(0, 40).join('')}...` : clean;
}
