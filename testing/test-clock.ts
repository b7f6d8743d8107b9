import type { Clock } from "../runtime/internal.js";

interface Wakeup {
  atMs: number;
  fire: () => void;
  order: number;
}

/**
 * A clock that moves only when told to. Wake-ups are kept, not timed: {@link TestClock.next} says
 * which is due first, and the test environment fires them as it moves the time.
 */
export class TestClock implements Clock {
  private nowMs: number;
  private readonly wakeups = new Set<Wakeup>();
  private order = 0;

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  wakeAt(atMs: number, fire: () => void): () => void {
    const wakeup: Wakeup = { atMs, fire, order: this.order++ };
    this.wakeups.add(wakeup);
    return () => this.wakeups.delete(wakeup);
  }

  /** How many wake-ups are pending (the runtime keeps one per partition with timers, however many timers). */
  pending(): number {
    return this.wakeups.size;
  }

  /** When the earliest pending wake-up is due (infinite: none). */
  next(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const w of this.wakeups) if (w.atMs < earliest) earliest = w.atMs;
    return earliest;
  }

  /**
   * Moves the time to `toMs` (never back) and fires every wake-up due by then, earliest first (in
   * the order they were set when due together). Returns how many fired.
   */
  moveTo(toMs: number): number {
    this.nowMs = Math.max(this.nowMs, toMs);
    const due = [...this.wakeups].filter((w) => w.atMs <= this.nowMs).sort((a, b) => a.atMs - b.atMs || a.order - b.order);
    for (const w of due) {
      // Cancelled by a wake-up that fired before it in this same move.
      if (!this.wakeups.delete(w)) continue;
      w.fire();
    }
    return due.length;
  }
}
