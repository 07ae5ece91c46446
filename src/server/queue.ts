// Admission and run slots for the enhance route: at most `concurrency` jobs run, at most `maxQueued`
// more are admitted (uploading or waiting); anything beyond is refused at once (429). Admission is
// taken when a request arrives, before its body is read, so a full server reads no more uploads.

/** Why a wait for a slot ended without one. */
export class SlotAbortedError extends Error {
  constructor(readonly reason: 'timeout' | 'closed') {
    super(reason === 'timeout' ? 'timed out waiting for a free slot' : 'the client went away');
  }
}

export interface QueueStats {
  concurrency: number;
  maxQueued: number;
  /** Requests admitted and not yet answered (uploading, waiting or running). */
  admitted: number;
  running: number;
  waiting: number;
  /** Requests refused because the queue was full, since start. */
  rejected: number;
}

export class WorkQueue {
  #admitted = 0;
  #running = 0;
  #rejected = 0;
  readonly #waiters: { grant: () => void }[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
  ) {}

  /** Admits a request, or returns null when concurrency + maxQueued requests are already in. The
   * returned release is idempotent. */
  admit(): (() => void) | null {
    if (this.#admitted >= this.concurrency + this.maxQueued) {
      this.#rejected++;
      return null;
    }
    this.#admitted++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#admitted--;
    };
  }

  /**
   * Waits for a run slot (first come, first served). Resolves to the slot's idempotent release;
   * rejects with SlotAbortedError when the signal aborts first (the waiter is removed).
   */
  acquire(signal: AbortSignal, reason: () => 'timeout' | 'closed'): Promise<() => void> {
    const slot = (): (() => void) => {
      this.#running++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        this.#running--;
        this.#next();
      };
    };
    if (signal.aborted) return Promise.reject(new SlotAbortedError(reason()));
    if (this.#running < this.concurrency && this.#waiters.length === 0) return Promise.resolve(slot());
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(slot());
        },
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new SlotAbortedError(reason()));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #next(): void {
    while (this.#running < this.concurrency && this.#waiters.length > 0) this.#waiters.shift()!.grant();
  }

  stats(): QueueStats {
    return {
      concurrency: this.concurrency,
      maxQueued: this.maxQueued,
      admitted: this.#admitted,
      running: this.#running,
      waiting: this.#waiters.length,
      rejected: this.#rejected,
    };
  }
}
