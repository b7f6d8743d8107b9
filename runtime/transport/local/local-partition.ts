import type { Logger } from "pino";
import type { ControlCommand } from "../../../sdk/internal.js";
import type { PartitionProcessor, PartitionWorker, ProcessorFactory } from "../../partition/index.js";
import type { Store } from "../../store/index.js";
import { withDeadline } from "../../timing.js";
import { LocalCommitter } from "./local-committer.js";
import { LocalInbox, type LocalInboxes } from "./local-inbox.js";

/** Serves one partition in embedded mode: its inbox table, its synced LMDB commits, its processor. */
export class LocalPartition implements PartitionWorker {
  private readonly halt = new AbortController();
  private readonly inbox: LocalInbox;
  private readonly committer: LocalCommitter;
  private readonly processor: PartitionProcessor;

  constructor(
    readonly partition: number,
    readonly epoch: number,
    private readonly deps: { store: Store; inboxes: LocalInboxes; maxInFlight: number; processor: ProcessorFactory; signal: AbortSignal; log: Logger },
  ) {
    const log = deps.log.child({ component: "partition", partition });
    const signal = AbortSignal.any([deps.signal, this.halt.signal]);
    this.inbox = new LocalInbox(partition, deps.store, deps.maxInFlight, log);
    this.committer = new LocalCommitter({ partition, store: deps.store, signal, logger: log });
    this.processor = deps.processor({ partition, commitLog: this.committer, inbox: this.inbox, signal, log });
  }

  async start(): Promise<void> {
    await this.deps.store.countRedeliveries(this.partition, this.deps.maxInFlight);
    this.deps.inboxes.add(this.partition, this.inbox);
    this.processor.start();
    this.inbox.start((delivery) => this.processor.deliver(delivery));
  }

  async stop(graceMs: number): Promise<void> {
    this.inbox.stop();
    this.deps.inboxes.remove(this.partition, this.inbox);
    // Invocations waiting out a retry's backoff are not waited for: they run again at the next start.
    await withDeadline(this.processor.settled(), graceMs);
    this.halt.abort();
    this.processor.stop();
    await this.committer.idle();
    await this.inbox.flushed();
  }

  /** Resolves once nothing is queued in the partition's inbox or running (timers that fired included). */
  async idle(): Promise<void> {
    do {
      await this.processor.settled();
      await this.committer.idle();
      // A client's row still being written is not readable yet, but is work to wait for.
      await this.inbox.appended();
      // An inbox wake-up may be pending (a row written this turn): let it read before checking.
      await new Promise((resolve) => setImmediate(resolve));
    } while (this.busy());
  }

  busy(): boolean {
    return this.processor.busy || this.inbox.busy();
  }

  control(command: ControlCommand, invocationId: string): Promise<boolean> {
    return this.processor.control(command, invocationId);
  }
}
