import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import { HostClosedError } from "../errors.js";
import { backoffMs } from "../invoke/index.js";
import { INTERNAL_RETRY } from "../timing.js";
import { type Store, type TimerEntry, type TimersRecord, timerKey } from "../store/index.js";
import type { Checkpoint, CommitLog, Router } from "./ports.js";

/** Timers fired by one commit: few enough that their sends fit in one changelog entry. */
const FIRE_BATCH = 64;
const FIRE_BATCH_BYTES = 256 * 1024;

export interface TimerDeps {
  partition: number;
  store: Store;
  clock: Clock;
  commitLog: CommitLog;
  router: Router;
  inbox: Checkpoint;
  /** Aborted when the partition stops at once. */
  signal: AbortSignal;
  log: Logger;
}

/**
 * The durable timers of one partition. They live in the partition's `timers` table, committed with
 * whatever set them; this keeps ONE clock wake-up, for the earliest, however many there are. When it
 * comes, the due timers are fired by a commit (removed, their sends released to their targets'
 * inboxes), in due order, in groups, and the wake-up moves to the next.
 */
export class PartitionTimers {
  private cancelWake: (() => void) | undefined;
  private wakeAtMs = Number.POSITIVE_INFINITY;
  private firingNow: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: TimerDeps) {}

  /** Wakes for the earliest timer the partition holds (a new owner fires what was due meanwhile). */
  start(): void {
    this.rearm();
  }

  stop(): void {
    this.stopped = true;
    this.cancelWake?.();
    this.cancelWake = undefined;
  }

  /** A commit added these timers: the wake-up moves earlier if one of them is. */
  added(timers: readonly TimerEntry[] | undefined): void {
    for (const timer of timers ?? []) if (timer.dueMs < this.wakeAtMs) this.wakeAt(timer.dueMs);
  }

  /** Resolves when no firing is in progress. */
  async idle(): Promise<void> {
    while (this.firingNow) await this.firingNow;
  }

  /** Whether timers are being fired now. */
  get firing(): boolean {
    return this.firingNow !== undefined;
  }

  private wakeAt(atMs: number): void {
    if (this.stopped) return;
    this.cancelWake?.();
    this.wakeAtMs = atMs;
    this.cancelWake = this.deps.clock.wakeAt(atMs, () => this.fire());
  }

  private rearm(): void {
    const next = this.deps.store.earliestTimer(this.deps.partition);
    if (next) {
      this.wakeAt(next.dueMs);
    } else {
      this.cancelWake?.();
      this.cancelWake = undefined;
      this.wakeAtMs = Number.POSITIVE_INFINITY;
    }
  }

  private fire(): void {
    this.cancelWake = undefined;
    this.wakeAtMs = Number.POSITIVE_INFINITY;
    if (this.stopped || this.firingNow) return; // a firing in progress re-arms when it ends
    this.firingNow = this.fireDue().finally(() => {
      this.firingNow = undefined;
      if (!this.stopped) this.rearm();
    });
  }

  private async fireDue(): Promise<void> {
    const { partition, store, clock, commitLog, router, inbox, signal, log } = this.deps;
    for (let failures = 0; !this.stopped && !signal.aborted; ) {
      const due = withinBytes(store.dueTimers(partition, clock.now(), FIRE_BATCH));
      if (due.length === 0) return;
      const record: TimersRecord = {
        kind: "timers",
        partition,
        added: [],
        fired: due.map((t) => timerKey(partition, t)),
        outbox: due.map((t) => t.send),
        position: inbox.checkpoint(),
      };
      try {
        router.release(partition, await commitLog.commit(record));
        failures = 0;
      } catch (error) {
        // Not this worker's partition any more (fenced, stopping): its next owner fires them.
        if (error instanceof HostClosedError || signal.aborted) return;
        const retryInMs = backoffMs(INTERNAL_RETRY, ++failures);
        log.error({ err: error, timers: due.length, retryInMs }, "firing timers failed; retrying");
        await sleep(retryInMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }
}

/** The first timers of `due` whose sends add up to at most FIRE_BATCH_BYTES (at least one). */
function withinBytes(due: TimerEntry[]): TimerEntry[] {
  let bytes = 0;
  for (let i = 0; i < due.length; i++) {
    bytes += (due[i] as TimerEntry).send.data.byteLength;
    if (bytes > FIRE_BATCH_BYTES && i > 0) return due.slice(0, i);
  }
  return due;
}
