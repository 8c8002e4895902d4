/**
 * Back-off for something that keeps failing: the first failure is retried at once,
 * then 400 ms, 800 ms, ... (100 ms times 2 to the failure count), up to `capMs`.
 * The client's stream resumes and the primary's re-forks of a crash-looping child both use it.
 */
export function retryDelayMs(failures: number, capMs: number): number {
  return failures > 1 ? Math.min(100 * 2 ** failures, capMs) : 0;
}
