import type { CommitRecord } from "./records.js";
import type { Store } from "./store.js";

interface Waiting {
  record: CommitRecord;
  resolve(outboxSeqs: number[]): void;
  reject(error: unknown): void;
}

/**
 * Group commit: records that complete while a transaction is being written wait and go together in
 * the next one, so one fsync serves many invocations; the next transaction commits while the
 * previous one flushes. Each caller learns only once its record is durable, and only then releases
 * replies, sends and acks.
 */
export class GroupCommitter {
  private queue: Waiting[] = [];
  private running = false;

  constructor(
    private readonly store: Store,
    private readonly maxBatch = 2000,
  ) {}

  commit(record: CommitRecord): Promise<number[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    // Let the current turn's completions join the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      const reject = (error: unknown) => {
        for (const w of batch) w.reject(error);
      };
      try {
        const { seqs, flushed } = await this.store.commit(batch.map((w) => w.record));
        flushed.then(() => batch.forEach((w, i) => w.resolve(seqs[i] ?? [])), reject);
      } catch (error) {
        reject(error);
      }
    }
    this.running = false;
  }
}
