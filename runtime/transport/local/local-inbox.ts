import type { Logger } from "pino";
import type { Checkpoint, Delivery } from "../../partition/index.js";
import type { InboxKey, InboxRow, Store } from "../../store/index.js";

/** Rows read from the inbox table at a time. */
const READ_PAGE = 256;

/**
 * Embedded mode's inbox source for one partition: the partition's rows of the `inbox` table, in
 * arrival order. Rows get there in the commit that accepted them (a client's append, a handler's
 * send, a timer firing); whoever wrote them wakes this source. A settle deletes the row; a row that
 * was never settled (the process died) is delivered again at the next start, and its completion
 * record answers it if it had run.
 */
export class LocalInbox implements Checkpoint {
  private lastSeq = 0;
  private inFlight = 0;
  private deliver: ((delivery: Delivery) => void) | undefined;
  private scheduled = false;
  private stopped = false;
  private handled: InboxKey[] = [];
  private readonly deleting = new Set<Promise<void>>();
  /** Client rows being written: not yet readable, but work the partition is about to have. */
  private readonly appending = new Set<Promise<void>>();

  constructor(
    private readonly partition: number,
    private readonly store: Store,
    private readonly maxInFlight: number,
    private readonly log: Logger,
  ) {}

  start(deliver: (delivery: Delivery) => void): void {
    this.deliver = deliver;
    this.wake();
  }

  stop(): void {
    this.stopped = true;
  }

  /** New rows may be there: read them soon (once per turn, however many wake-ups). */
  wake(): void {
    if (this.scheduled || this.stopped || !this.deliver) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.read();
    });
  }

  /**
   * A row a client is appending (its transaction not yet durable): delivered at once when nothing
   * is ahead of it in this inbox, else read in its turn once written. Either way its commit waits
   * for `written` (see `Delivery.accepted`).
   */
  accept(key: InboxKey, row: InboxRow, written: Promise<void>): void {
    const appending = written.then(
      () => undefined,
      () => undefined,
    );
    this.appending.add(appending);
    void appending.finally(() => this.appending.delete(appending));
    if (this.stopped || !this.deliver || this.lastSeq !== key[1] - 1 || this.inFlight >= this.maxInFlight) {
      written.then(() => this.wake(), () => undefined);
      return;
    }
    this.lastSeq = key[1];
    this.handOver(this.deliver, key, row, written);
  }

  /** Whether it has rows not yet delivered (being written, or not yet read). */
  busy(): boolean {
    // Rows delivered and not yet settled are the processor's to count: one waiting out a retry's
    // backoff on the clock is not busy.
    return this.appending.size > 0 || this.store.readInbox(this.partition, this.lastSeq, 1).length > 0;
  }

  /** Resolves once the client rows being appended now are written (or failed). */
  async appended(): Promise<void> {
    await Promise.all(this.appending);
  }

  /** Embedded mode needs no position: handled rows are deleted. */
  checkpoint(): number {
    return 0;
  }

  private read(): void {
    const deliver = this.deliver;
    if (!deliver) return;
    while (!this.stopped && this.inFlight < this.maxInFlight) {
      const rows = this.store.readInbox(this.partition, this.lastSeq, Math.min(READ_PAGE, this.maxInFlight - this.inFlight));
      if (rows.length === 0) return;
      for (const { key, row } of rows) {
        this.lastSeq = key[1];
        this.handOver(deliver, key, row, undefined);
      }
    }
  }

  /** Deletes handled rows, those settled in one turn together. */
  private forget(key: InboxKey): void {
    this.handled.push(key);
    if (this.handled.length > 1) return;
    queueMicrotask(() => {
      const keys = this.handled.splice(0);
      const deleting = this.store
        .removeInbox(keys)
        .catch((err: unknown) => this.log.warn({ err, rows: keys.length }, "could not delete handled inbox rows; each is answered from its completion when read again"))
        .finally(() => this.deleting.delete(deleting));
      this.deleting.add(deleting);
    });
  }

  /** Resolves once the deletions of the rows settled so far are written (before the store closes). */
  async flushed(): Promise<void> {
    await Promise.resolve(); // a deletion queued in this turn starts first
    await Promise.all(this.deleting);
  }

  private handOver(deliver: (delivery: Delivery) => void, key: InboxKey, row: InboxRow, accepted: Promise<void> | undefined): void {
    this.inFlight++;
    let handled = false;
    const done = (): boolean => {
      if (handled) return false;
      handled = true;
      this.inFlight--;
      this.wake();
      return true;
    };
    deliver({
      parsed: { ok: true, envelope: row.envelope },
      data: row.data,
      seq: key[1],
      deliveries: row.deliveries ?? 1,
      settle: () => {
        if (!done()) return;
        this.forget(key);
      },
      // The row stays: the next start delivers it again.
      abandon: () => void done(),
      flush: async () => undefined,
      ...(accepted ? { accepted } : {}),
    });
  }
}

/** The local inboxes of the partitions this process serves, so that a commit can wake the ones it wrote to. */
export class LocalInboxes {
  private readonly inboxes = new Map<number, LocalInbox>();

  add(partition: number, inbox: LocalInbox): void {
    this.inboxes.set(partition, inbox);
  }

  remove(partition: number, inbox: LocalInbox): void {
    if (this.inboxes.get(partition) === inbox) this.inboxes.delete(partition);
  }

  wake(partition: number): void {
    this.inboxes.get(partition)?.wake();
  }

  /** A client's row being appended (see {@link LocalInbox.accept}); read once written when the partition is not served. */
  accept(partition: number, key: InboxKey, row: InboxRow, written: Promise<void>): void {
    const inbox = this.inboxes.get(partition);
    if (inbox) inbox.accept(key, row, written);
  }
}
