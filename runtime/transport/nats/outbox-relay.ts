import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { MsgHdrs } from "nats";
import { type JetStreamPublisher, envelopeHeaders, inboxSubject, targetLabel } from "../../../sdk/internal.js";
import { CrashPoint, crashPoint } from "../../faults.js";
import type { OutboxEntry, OutboxKey, Store } from "../../store/index.js";

interface Pending {
  key: OutboxKey;
  entry: OutboxEntry;
}

const BATCH = 512;
const RETRY_DELAY_MS = 500;

/**
 * Publishes committed sends and forgets each once JetStream has acknowledged it. The message id is
 * the target invocation's deterministic id, so a publish repeated after a crash is dropped by
 * JetStream within its duplicate window and by the receiving partition's completion records after.
 */
export class OutboxRelay {
  private queue: Pending[] = [];
  private running = false;
  private idle: Array<() => void> = [];
  /** Queued or in-flight entries per partition, and who waits for a partition's to be published. */
  private readonly unpublished = new Map<number, number>();
  private readonly partitionIdle = new Map<number, Array<() => void>>();
  private stopped = false;
  private readonly stopSignal = new AbortController();

  constructor(
    private readonly publisher: JetStreamPublisher,
    private readonly store: Store,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  add(items: readonly Pending[]): void {
    if (items.length === 0) return;
    for (const item of items) {
      this.queue.push(item);
      this.unpublished.set(item.key[0], (this.unpublished.get(item.key[0]) ?? 0) + 1);
    }
    if (!this.running) void this.run();
  }

  /** Queues what a partition committed but had not published when its last owner stopped. */
  recover(partition: number): number {
    const items = this.store.readOutbox(partition);
    this.add(items);
    return items.length;
  }

  /** Resolves once everything queued so far is published. */
  drain(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Resolves once everything queued so far for `partition` is published (a handoff waits for it). */
  drainPartition(partition: number): Promise<void> {
    if (!this.unpublished.get(partition)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiting = this.partitionIdle.get(partition) ?? [];
      waiting.push(resolve);
      this.partitionIdle.set(partition, waiting);
    });
  }

  private published(partition: number): void {
    const left = (this.unpublished.get(partition) ?? 1) - 1;
    if (left > 0) {
      this.unpublished.set(partition, left);
      return;
    }
    this.unpublished.delete(partition);
    for (const resolve of this.partitionIdle.get(partition) ?? []) resolve();
    this.partitionIdle.delete(partition);
  }

  /** Stops publishing; what is left stays in the outbox for the next start. */
  stop(): void {
    this.stopped = true;
    this.stopSignal.abort();
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0 && !this.stopped) {
      try {
        await this.publishBatch(this.queue.splice(0, BATCH));
      } catch (error) {
        // publishBatch re-queued what it had not published; only a failed outbox delete lands here.
        this.log.warn({ err: error }, "outbox bookkeeping failed; continuing");
      }
    }
    this.running = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private async publishBatch(batch: Pending[]): Promise<void> {
    const sendable: Array<{ item: Pending; headers: MsgHdrs }> = [];
    // Published, or dropped: an entry whose headers cannot be built would fail the same way forever.
    const forgotten: OutboxKey[] = [];
    for (const item of batch) {
      const headers = this.headersOf(item);
      if (headers) {
        sendable.push({ item, headers });
      } else {
        forgotten.push(item.key);
        this.published(item.key[0]);
      }
    }
    const results = await Promise.allSettled(sendable.map(({ item, headers }) => this.publisher.publish(inboxSubject(this.namespace, item.entry.partition), item.entry.data, headers)));
    const failed: Pending[] = [];
    let firstError: unknown;
    results.forEach((result, i) => {
      const { item } = sendable[i] as { item: Pending };
      if (result.status === "fulfilled") {
        forgotten.push(item.key);
        this.published(item.key[0]);
      } else {
        firstError ??= result.reason;
        failed.push(item);
      }
    });
    if (failed.length > 0) {
      this.log.warn({ failed: failed.length, err: firstError }, "outbox publish failed; retrying");
      this.queue.unshift(...failed);
    }
    if (results.some((result) => result.status === "fulfilled")) crashPoint(CrashPoint.AfterPublish);
    if (this.stopped) return; // the store may be closing; these are published again at the next start
    await this.store.removeOutbox(forgotten);
    if (failed.length > 0) await sleep(RETRY_DELAY_MS, undefined, { signal: this.stopSignal.signal }).catch(() => undefined);
  }

  /**
   * The entry's headers, or `undefined` for an entry that can never be published (an object key
   * with a lone surrogate, committed before ctx refused them): logged and dropped, so that it does
   * not hold back the rest of its batch.
   */
  private headersOf({ key, entry }: Pending): MsgHdrs | undefined {
    try {
      return envelopeHeaders(entry.envelope, entry.data);
    } catch (error) {
      const [partition, logSeq, index] = key;
      this.log.error(
        { partition, logSeq, index, invocationId: entry.envelope.invocationId, target: targetLabel(entry.envelope.target), err: error },
        "outbox entry cannot be published; dropped",
      );
      return undefined;
    }
  }
}
