import type { Logger } from "pino";
import { HostClosedError } from "../../errors.js";
import type { CommitLog, Committed } from "../../partition/index.js";
import { type CommitRecord, type Store, applyUntilWritten } from "../../store/index.js";

interface Pending {
  record: CommitRecord;
  resolve: (committed: Committed) => void;
  reject: (error: unknown) => void;
}

/** Records in one transaction at most; more wait for the next. */
const MAX_RECORDS_PER_COMMIT = 512;

/**
 * Embedded mode's commit path: the records of every invocation that completed while the previous
 * transaction was being written become ONE synced LMDB transaction (state, completions, timers, and
 * sends written straight into their targets' inboxes); each record's commit resolves once it is on
 * disk. LMDB is the only copy here, so `applied` simply counts the partition's transactions.
 */
export class LocalCommitter implements CommitLog {
  private queue: Pending[] = [];
  private running: Promise<void> | undefined;

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
      this.running ??= this.run().finally(() => (this.running = undefined));
    });
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    const { store, partition, signal, logger } = this.options;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_RECORDS_PER_COMMIT);
      try {
        await applyUntilWritten(store, partition, store.appliedLogSeq(partition) + 1, batch.map((p) => p.record), { signal, logger });
        for (const p of batch) p.resolve({ record: p.record, outboxKeys: [] });
      } catch (error) {
        for (const p of batch) p.reject(error);
        if (signal.aborted) for (const p of this.queue.splice(0)) p.reject(error);
      }
    }
  }
}
