import type { Caller, Envelope, ReplyAddress } from "../../sdk/internal.js";
import type { InvocationRow, JournalEntry, Outcome } from "../store/index.js";
import type { Delivery } from "./ports.js";

/**
 * An invocation its partition holds, from its first delivery (or, after a restart or a take-over,
 * its row) until its completion commits. It keeps the inbox messages that carried it (the first and
 * any duplicate) until the first commit that records it, then settles them: from there on the
 * partition's tables hold it, not the transport. It also gathers every caller waiting for its result.
 */
export class LiveInvocation {
  /** The journal as committed, by index. */
  readonly journal: Map<number, JournalEntry>;
  failedAttempts: number;
  /** When a resumed invocation that was backing off runs again. */
  nextAttemptAtMs: number | undefined;
  /** A commit that writes its row has been issued (later commits of it land after that one). */
  hasRow: boolean;
  private durable: boolean;
  private readonly unsettled: Delivery[] = [];
  private readonly callers: ReplyAddress[] = [];
  /** Handlers waiting for its result (their calls' journal entries): answered by its completion's commit. */
  readonly waitingCallers: Caller[] = [];
  /** Duplicates from waiting handlers: settled only with the completion that answers them. */
  private readonly heldUntilDone: Delivery[] = [];
  private readonly entryWaiters = new Map<number, Set<(outcome: Outcome) => void>>();
  private outcome: Outcome | undefined;
  private first: Delivery | undefined;
  private held: Promise<boolean> | undefined;
  /** Its completion is being committed: no acceptance may be issued after it. */
  completing = false;

  private constructor(
    readonly envelope: Envelope,
    readonly data: Uint8Array,
    readonly seq: number,
    row: InvocationRow | undefined,
    journal: Map<number, JournalEntry>,
    private readonly answer: (to: ReplyAddress, invocationId: string, outcome: Outcome) => void,
  ) {
    this.journal = journal;
    this.failedAttempts = row?.failedAttempts ?? 0;
    this.nextAttemptAtMs = row?.status === "backing-off" ? row.nextAttemptAtMs : undefined;
    this.hasRow = row !== undefined;
    this.durable = row !== undefined;
    if (envelope.replyTo) this.callers.push(envelope.replyTo);
    if (envelope.caller) this.waitingCallers.push(envelope.caller);
  }

  /** One delivered now: held until its first commit. */
  static delivered(delivery: Delivery & { parsed: { ok: true } }, seq: number, answer: (to: ReplyAddress, invocationId: string, outcome: Outcome) => void): LiveInvocation {
    const invocation = new LiveInvocation(delivery.parsed.envelope, delivery.data, seq, undefined, new Map(), answer);
    invocation.unsettled.push(delivery);
    invocation.first = delivery;
    return invocation;
  }

  /** One the partition's tables hold (a restart, a take-over): resumed from its row and journal. */
  static resumed(row: InvocationRow, journal: Map<number, JournalEntry>, answer: (to: ReplyAddress, invocationId: string, outcome: Outcome) => void): LiveInvocation {
    return new LiveInvocation(row.envelope, row.data, row.seq, row, journal, answer);
  }

  get invocationId(): string {
    return this.envelope.invocationId;
  }

  /** The row to commit with a new status. */
  row(fields: Pick<InvocationRow, "status"> & Partial<InvocationRow>): InvocationRow {
    return { seq: this.seq, envelope: this.envelope, data: this.data, failedAttempts: this.failedAttempts, ...fields };
  }

  /**
   * Whether the first delivery's inbox write is durable (embedded mode may hand it over before):
   * nothing commits before. One promise for every caller, so that commits waiting on it are issued
   * in the order they asked.
   */
  inboxWriteHeld(): Promise<boolean> {
    this.held ??= (this.first?.accepted ?? Promise.resolve()).then(
      () => true,
      () => false,
    );
    return this.held;
  }

  /**
   * Another delivery of the same invocation (a redelivery, or a retry with its idempotency key):
   * its caller gets the one result, and the message is settled once the invocation is recorded.
   */
  attach(delivery: Delivery & { parsed: { ok: true } }): void {
    if (delivery.accepted) {
      // Settled only once its own inbox write is durable; a failed write told its caller already.
      delivery.accepted.then(
        () => this.attachWritten(delivery),
        () => delivery.abandon(),
      );
      return;
    }
    this.attachWritten(delivery);
  }

  private attachWritten(delivery: Delivery & { parsed: { ok: true } }): void {
    const { replyTo, caller } = delivery.parsed.envelope;
    if (this.outcome) {
      // Completed meanwhile: a waiting handler is answered by the processor, from the completion record.
      if (caller) return delivery.abandon();
      delivery.settle();
      if (replyTo) this.answer(replyTo, this.invocationId, this.outcome);
      return;
    }
    if (replyTo) this.callers.push(replyTo);
    if (caller) {
      // Its caller is known here only: the message stays until the completion that answers it commits.
      if (!this.waitingCallers.some((c) => c.invocationId === caller.invocationId && c.index === caller.index)) this.waitingCallers.push(caller);
      this.heldUntilDone.push(delivery);
    } else if (this.durable) {
      delivery.settle();
    } else {
      this.unsettled.push(delivery);
    }
  }

  /** Calls `then` once the call or awakeable at `index` has its outcome (see `entryCompleted`); returns how to stop waiting. */
  waitForEntry(index: number, then: (outcome: Outcome) => void): () => void {
    const waiters = this.entryWaiters.get(index) ?? new Set();
    waiters.add(then);
    this.entryWaiters.set(index, waiters);
    return () => {
      waiters.delete(then);
      if (waiters.size === 0 && this.entryWaiters.get(index) === waiters) this.entryWaiters.delete(index);
    };
  }

  /** A complete-entry command for `index` committed: the handler waiting there goes on. */
  entryCompleted(index: number, outcome: Outcome): void {
    const waiters = this.entryWaiters.get(index);
    this.entryWaiters.delete(index);
    for (const waiter of waiters ?? []) waiter(outcome);
  }

  /** A commit recorded it: its messages are settled, and the transport forgets them. */
  recorded(): void {
    this.durable = true;
    for (const delivery of this.unsettled.splice(0)) delivery.settle();
  }

  /** Its messages, when nothing of it committed, are left for the partition's next owner. */
  abandon(): void {
    for (const delivery of [...this.unsettled.splice(0), ...this.heldUntilDone.splice(0)]) delivery.abandon();
  }

  /** Its completion committed: every caller gets the outcome (and later duplicates too). */
  completed(outcome: Outcome): void {
    this.outcome = outcome;
    this.recorded();
    for (const delivery of this.heldUntilDone.splice(0)) delivery.settle();
    for (const to of this.callers.splice(0)) this.answer(to, this.invocationId, outcome);
  }

  /** Resolves once the settle of its first message reached the transport (crash tests). */
  async flush(): Promise<void> {
    await this.first?.flush();
  }
}
