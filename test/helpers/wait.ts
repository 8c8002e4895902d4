/**
 * Waiting for a condition with a deadline: the only way tests synchronise.
 *
 * No wait outlives the test file: tap kills a file at its timeout (TAP_TIMEOUT,
 * counted from the start of the process), and a killed file reports nothing of
 * what it waited for and runs no teardown. So a deadline past that point is cut
 * to end a few seconds before it: the wait fails with its own message instead.
 */
const TAP_KILLS_AT = process.env.TAP_TIMEOUT ? performance.timeOrigin + Number(process.env.TAP_TIMEOUT) * 1000 : Infinity;
/** Time left, after a cut-short wait has failed, for its test's teardowns. */
const TEARDOWN_MS = 10_000;
/**
 * What most waits are for (a post replicated, a worker re-forked, a prompt drawn)
 * takes well under a second on an idle host and many times that beside another
 * tap job and a CPU hog on 2 cores; a real failure still shows, only later.
 */
const DEFAULT_TIMEOUT_MS = 30_000;

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  intervalMs = 20,
): Promise<T> {
  const started = Date.now();
  const cut = started + timeoutMs > TAP_KILLS_AT - TEARDOWN_MS;
  const deadline = cut ? TAP_KILLS_AT - TEARDOWN_MS : started + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const waited = cut ? `${Date.now() - started} ms (of ${timeoutMs}, cut short: tap kills this file in ${Math.round((TAP_KILLS_AT - Date.now()) / 1000)} s)` : `${timeoutMs} ms`;
      throw new Error(`timed out after ${waited} waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
