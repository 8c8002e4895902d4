/**
 * Runs a stream's write loop, one run at a time: `schedule` starts one at the next
 * microtask (events applied in one go leave as one batch), and a run whose write was
 * refused (back-pressure) parks until `resume` (the stream's 'drain', or its close).
 */
export class WritePump {
  private running = false;
  private scheduled = false;
  private wake: (() => void) | null = null;

  /** `loop` writes until it has nothing to write; `park` waits for `resume`. */
  constructor(private readonly loop: (park: () => Promise<void>) => Promise<void>) {}

  /** Runs the loop now, unless it runs. */
  async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.loop(() => new Promise<void>((resolve) => (this.wake = resolve)));
    } finally {
      this.running = false;
    }
  }

  /** Runs the loop at the next microtask. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  /** Wakes a parked run. */
  resume(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}
