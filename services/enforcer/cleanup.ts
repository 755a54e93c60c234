/**
 * A stack of undo steps: each runs at most once, the stack unwinds in
 * reverse order, and a failing step does not stop the others (the first
 * error is rethrown once all have run).
 */
export type Step = () => unknown;

export class Cleanup {
  readonly #steps: Array<{ run: () => Promise<void>; done: boolean }> = [];

  /** Registers `step`; returns it wrapped. Calling that early runs the step now, and the unwind skips it (the caller owns its outcome). */
  add(step: Step): () => Promise<void> {
    const entry = { run: async () => void (await step()), done: false };
    this.#steps.push(entry);
    return () => {
      if (entry.done) return Promise.resolve();
      entry.done = true;
      return entry.run();
    };
  }

  async run(): Promise<void> {
    let first: unknown;
    let failed = false;
    while (this.#steps.length > 0) {
      const entry = this.#steps.pop()!;
      if (entry.done) continue;
      entry.done = true;
      try {
        await entry.run();
      } catch (error) {
        if (!failed) first = error;
        failed = true;
      }
    }
    if (failed) throw first;
  }
}
