/**
 * Long synchronous work cut into slices: a loop calls the returned function after
 * each step, and every `sliceMs` it waits for the event loop's next turn, so timers
 * (lock updates) and messages (the primary's pings) are served meanwhile. A loop of
 * `await`s on promises that are already settled never lets them run. The default
 * 50 ms keeps a process loading or reading a big doorbell answering its primary.
 */
export function timeSlicer(sliceMs = 50): () => Promise<void> | undefined {
  let sliceStart = Date.now();
  return () => {
    if (Date.now() - sliceStart < sliceMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        sliceStart = Date.now();
        resolve();
      }),
    );
  };
}
