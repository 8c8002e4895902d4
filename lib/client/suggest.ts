/**
 * "Did you mean?" for a mistyped command word. Pure. Distances are
 * Damerau-Levenshtein (a swapped pair of letters, `jion`, is one step, as git
 * counts its typos), from the damerau-levenshtein package.
 */
import levenshtein from 'damerau-levenshtein';

/** The closest of `words` to `typed`, if it is near enough to be a typo of it; else null. */
export function closestWord(typed: string, words: readonly string[]): string | null {
  const input = typed.toLowerCase();
  // One slip in a short word, two in a longer one: further than that is another word.
  const allowed = input.length <= 4 ? 1 : 2;
  let best: string | null = null;
  let bestSteps = allowed + 1;
  for (const w of words) {
    const steps = levenshtein(input, w).steps;
    if (steps < bestSteps) {
      best = w;
      bestSteps = steps;
    }
  }
  return best === input ? null : best;
}
