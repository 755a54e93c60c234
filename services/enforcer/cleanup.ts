/**
 * A stack of undo steps: each step runs at most once, the stack unwinds in
 * reverse order, and a failing step does not stop the others (the first
 * error is rethrown once all have run).
 */
export type Step = () => unknown;

export class Cleanup {
  readonly #steps: Array<() => Promise<void>> = [];

  /** Registers `step`; returns it wrapped so that calling it early makes the unwind skip it. */
  add(step: Step): () => Promise<void> {
    let done: Promise<void> | undefined;
    const once = () => (done ??= Promise.resolve().then(step).then(() => undefined));
    this.#steps.push(once);
    return once;
  }

  async run(): Promise<void> {
    let first: unknown;
    let failed = false;
    while (this.#steps.length > 0) {
      try {
        await this.#steps.pop()!();
      } catch (error) {
        if (!failed) first = error;
        failed = true;
      }
    }
    if (failed) throw first;
  }
}
