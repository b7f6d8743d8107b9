import type { Logger } from "pino";
import { HostClosedError } from "../../errors.js";
import { type CommitLog, type Committed, applyUntilWritten } from "../../partition/index.js";
import type { CommitRecord, Store } from "../../store/index.js";

interface Pending {
  record: CommitRecord;
  resolve: (committed: Committed) => void;
  reject: (error: unknown) => void;
}

/**
 * Embedded mode's commit path: the records committed during one turn of the event loop become one
 * write (state, completions, timers, and sends written straight into their targets' inboxes), and
 * lmdb-js puts the writes of a turn, all partitions', into ONE synced transaction; each record's
 * commit resolves once that is on disk. Writes are not held back behind the previous transaction:
 * LMDB commits them in order, and the records that must follow one another (an exclusive key's
 * invocations, a partition's timer firings) are only committed once the one before resolved. LMDB is
 * the only copy here, so `applied` simply counts the partition's writes.
 */
export class LocalCommitter implements CommitLog {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly options: {
      partition: number;
      store: Store;
      /** Aborted when the partition stops at once: pending commits fail with `HostClosedError`. */
      signal: AbortSignal;
      logger: Logger;
    },
  ) {}

  commit(record: CommitRecord): Promise<Committed> {
    return new Promise((resolve, reject) => {
      if (this.options.signal.aborted) return reject(new HostClosedError(`partition ${this.options.partition} stopped before its commit`));
      this.queue.push({ record, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      queueMicrotask(() => this.write());
    });
  }

  async idle(): Promise<void> {
    while (this.scheduled || this.writing.size > 0) {
      await Promise.all(this.writing);
      if (this.scheduled) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private write(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    const { store, partition, signal, logger } = this.options;
    const writing = applyUntilWritten(store, partition, store.appliedLogSeq(partition) + 1, batch.map((p) => p.record), { signal, logger }).then(
      () => {
        for (const p of batch) p.resolve({ record: p.record, outboxKeys: [] });
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error);
      },
    );
    this.writing.add(writing);
    void writing.finally(() => this.writing.delete(writing));
  }
}
