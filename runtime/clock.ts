/**
 * What the runtime reads time from. The system clock in production; `cairn/testing` drives a test
 * clock instead, so that everything that waits on time (timers, expiry) moves only when a test
 * moves it. Nothing in the runtime calls `Date.now()` but the system clock below; durations (lease
 * renewals, deadlines) are measured with the monotonic `performance.now()`.
 */
export interface Clock {
  now(): number;
  /**
   * Calls `fire` once `now()` has reached `atMs`, never before. Returns a function that cancels it.
   * The callback must not throw.
   */
  wakeAt(atMs: number, fire: () => void): () => void;
}

/** setTimeout's largest delay; a later wake-up is reached in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  wakeAt(atMs: number, fire: () => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = (): void => {
      timer = setTimeout(check, Math.max(0, Math.min(atMs - this.now(), MAX_TIMEOUT_MS)));
      // A pending timer never keeps the process alive: a host keeps it alive while it runs.
      timer.unref();
    };
    // Node's timers run on a monotonic clock and may fire a millisecond before the wall clock
    // reaches `atMs`: checked here, so that a timer never fires early. Never called synchronously.
    const check = (): void => {
      if (cancelled) return;
      if (this.now() >= atMs) fire();
      else arm();
    };
    arm();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }
}

export const systemClock: Clock = new SystemClock();
