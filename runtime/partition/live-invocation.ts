import type { Caller, ControlCommand, Envelope, ReplyAddress } from "../../sdk/internal.js";
import { type InvocationRow, type InvocationStatus, type JournalEntry, type Outcome, type StopRequest, mergeEntry } from "../store/index.js";
import { InvocationKilledError } from "../errors.js";
import { type Delivery, inboxWriteHeld } from "./ports.js";

/** How a live invocation's callers are answered: what needs a commit is the processor's. */
export interface Answers {
  /** A client's call: over the replier. */
  reply(to: ReplyAddress, invocationId: string, outcome: Outcome): void;
  /** A handler's call that joined once the completion was being committed: answered (and settled) with a commit. */
  late(delivery: Delivery, envelope: Envelope, outcome: Outcome): void;
}

/** A complete-entry command for an entry not committed yet (an awakeable whose id was handed out at once). */
export interface EarlyCompletion {
  delivery: Delivery;
  from: string;
  outcome: Outcome;
}

/** Early completions one invocation holds at most: more are refused (they hold their messages unsettled). */
const MAX_EARLY = 16;

const NO_ENTRIES: ReadonlyMap<number, JournalEntry> = new Map();

/**
 * An invocation its partition holds, from its first delivery (or, after a restart or a take-over,
 * its row) until its completion commits. It keeps the inbox messages that carried it (the first and
 * any duplicate) until the first commit that records it, then settles them: from there on the
 * partition's tables hold it, not the transport. It also gathers every caller waiting for its result.
 *
 * Most invocations have one message, one caller and no journal: what only some need is made on
 * first use (an invocation lives across its synced commit, so what it holds outlives young collections).
 */
export class LiveInvocation {
  failedAttempts: number;
  /** When a resumed invocation that was backing off runs again. */
  nextAttemptAtMs: number | undefined;
  /** A commit that writes its row has been issued (later commits of it land after that one). */
  hasRow: boolean;
  /** Its completion is being committed: no acceptance may be issued after it. */
  completing = false;
  /** A commit writing a newer row (a suspension point, a backoff) has been issued: an acceptance is not needed. */
  progressIssued = false;
  /** Its status as its last issued row says (`running` before any): control commands write rows beside its lane. */
  status: InvocationStatus;
  /** Its last issued row's times and error, kept by rows written beside its lane. */
  private rowDetail: Pick<InvocationRow, "wakeAtMs" | "nextAttemptAtMs" | "lastError"> = {};
  /** An operator's cancel or kill, once durable (see `StopRequest`). */
  stop: StopRequest | undefined;
  /** Attempts lost with their host or partition (see `InvocationRow.lostAttempts`). */
  lostAttempts: number;
  /** Its lane on the partition (its key's, for an exclusive handler), once scheduled. */
  lane: string | undefined;
  /** Whether an attempt of it ever started (a queued one stopped before it ran has nothing to compensate). */
  ran: boolean;
  /** Whatever waits for control commands: the handler's waits, a paused or backing-off invocation. */
  private controlListeners: Set<(command: ControlCommand) => void> | undefined;
  private durable: boolean;
  private entries: Map<number, JournalEntry> | undefined;
  /** The message that brought it, until a commit recorded it. */
  private first: Delivery | undefined;
  private firstSettled = false;
  /** Duplicates, until a commit recorded it. */
  private duplicates: Delivery[] | undefined;
  /** Duplicates from waiting handlers: settled only with the completion that answers them. */
  private heldUntilDone: Delivery[] | undefined;
  /** Callers of duplicates (the first caller is the envelope's). */
  private moreCallers: ReplyAddress[] | undefined;
  private moreWaiting: Caller[] | undefined;
  private entryWaiters: Map<number, Set<(outcome: Outcome) => void>> | undefined;
  private early: Map<number, EarlyCompletion[]> | undefined;
  /** Handlers' calls that joined while the completion was being committed. */
  private late: Array<{ delivery: Delivery; envelope: Envelope }> | undefined;
  private outcome: Outcome | undefined;
  private held: Promise<boolean> | undefined;
  private killed: Promise<never> | undefined;
  private kill: (() => void) | undefined;

  private constructor(
    readonly envelope: Envelope,
    readonly data: Uint8Array,
    readonly seq: number,
    row: InvocationRow | undefined,
    journal: Map<number, JournalEntry> | undefined,
    private readonly answers: Answers,
  ) {
    this.entries = journal;
    this.failedAttempts = row?.failedAttempts ?? 0;
    this.nextAttemptAtMs = row?.status === "backing-off" ? row.nextAttemptAtMs : undefined;
    this.hasRow = row !== undefined;
    this.durable = row !== undefined;
    this.status = row?.status ?? "running";
    this.stop = row?.stop;
    this.lostAttempts = row?.lostAttempts ?? 0;
    this.ran = row !== undefined && row.status !== "queued";
    if (row) this.rowDetail = { wakeAtMs: row.wakeAtMs, nextAttemptAtMs: row.nextAttemptAtMs, lastError: row.lastError };
  }

  /** One delivered now: held until its first commit. */
  static delivered(delivery: Delivery, envelope: Envelope, answers: Answers): LiveInvocation {
    const invocation = new LiveInvocation(envelope, delivery.data, delivery.seq, undefined, undefined, answers);
    invocation.first = delivery;
    return invocation;
  }

  /** One the partition's tables hold (a restart, a take-over): resumed from its row and journal. */
  static resumed(row: InvocationRow, journal: Map<number, JournalEntry>, answers: Answers): LiveInvocation {
    return new LiveInvocation(row.envelope, row.data, row.seq, row, journal, answers);
  }

  get invocationId(): string {
    return this.envelope.invocationId;
  }

  /** The journal as committed, by index. */
  get journal(): ReadonlyMap<number, JournalEntry> {
    return this.entries ?? NO_ENTRIES;
  }

  /**
   * Sets a journal entry as committed (or about to be: a complete-entry command being committed),
   * keeping what an earlier version of the same wait knew more of, as the store does.
   */
  setEntry(index: number, entry: JournalEntry): void {
    this.entries ??= new Map();
    this.entries.set(index, mergeEntry(this.entries.get(index), entry));
  }

  /** The handlers waiting for its result: the first caller's, and those of duplicates. */
  waitingCallers(): Caller[] {
    const first = this.envelope.caller;
    return [...(first ? [first] : []), ...(this.moreWaiting ?? [])];
  }

  /** The row to commit with a new status; what it is issued with becomes its last row. */
  row(fields: Pick<InvocationRow, "status"> & Partial<InvocationRow>): InvocationRow {
    const row: InvocationRow = { seq: this.seq, envelope: this.envelope, data: this.data, failedAttempts: this.failedAttempts, ...fields };
    if (this.stop !== undefined) row.stop = this.stop;
    if (this.lostAttempts > 0) row.lostAttempts = this.lostAttempts;
    this.status = row.status;
    this.rowDetail = { wakeAtMs: row.wakeAtMs, nextAttemptAtMs: row.nextAttemptAtMs, lastError: row.lastError };
    return row;
  }

  /** Its last row again, with what changed in memory since (a stop, its attempts): for commits beside its lane. */
  currentRow(): InvocationRow {
    const detail = Object.fromEntries(Object.entries(this.rowDetail).filter(([, value]) => value !== undefined));
    return this.row({ status: this.status, ...detail });
  }

  /** Its row once it goes on after a wait: `running`, so that losing its host from here on counts. */
  runningRow(): InvocationRow {
    return this.row({ status: "running", ...(this.rowDetail.lastError === undefined ? {} : { lastError: this.rowDetail.lastError }) });
  }

  /** Its handler's label (`Type.handler`), for errors and logs. */
  get label(): string {
    return `${this.envelope.target.name}.${this.envelope.target.handler}`;
  }

  /** Calls `listener` with each control command that reaches this invocation; returns how to stop listening. */
  onControl(listener: (command: ControlCommand) => void): () => void {
    this.controlListeners ??= new Set();
    this.controlListeners.add(listener);
    return () => this.controlListeners?.delete(listener);
  }

  /** A control command is durable: whatever waits for one hears it. */
  controlled(command: ControlCommand): void {
    if (command === "kill") this.kill?.();
    for (const listener of [...(this.controlListeners ?? [])]) listener(command);
  }

  /** Rejects with `InvocationKilledError` once a kill is durable (at once if one is); never resolves. */
  whenKilled(): Promise<never> {
    if (!this.killed) {
      // One promise per invocation and no listener: every invocation races it, few are ever killed.
      this.killed = new Promise<never>((_, reject) => {
        this.kill = () => reject(new InvocationKilledError(`invocation ${this.invocationId} was killed`));
      });
      this.killed.catch(() => undefined);
      if (this.stop === "kill") this.kill?.();
    }
    return this.killed;
  }

  /**
   * Whether the first delivery's inbox write is durable (embedded mode may hand it over before):
   * nothing commits before. One promise for every caller, so that commits waiting on it are issued
   * in the order they asked.
   */
  inboxWriteHeld(): Promise<boolean> {
    this.held ??= inboxWriteHeld(this.first);
    return this.held;
  }

  /**
   * Another delivery of the same invocation (a redelivery, or a retry with its idempotency key):
   * its caller gets the one result, and the message is settled once the invocation is recorded.
   */
  attach(delivery: Delivery, envelope: Envelope): void {
    if (delivery.accepted) {
      // Settled only once its own inbox write is durable; a failed write told its caller already.
      delivery.accepted.then(
        () => this.attachWritten(delivery, envelope),
        () => delivery.abandon(),
      );
      return;
    }
    this.attachWritten(delivery, envelope);
  }

  private attachWritten(delivery: Delivery, envelope: Envelope): void {
    const { replyTo, caller } = envelope;
    if (this.outcome) {
      // Completed meanwhile: a waiting handler's answer is committed by the processor.
      if (caller) return this.answers.late(delivery, envelope, this.outcome);
      delivery.settle();
      if (replyTo) this.answers.reply(replyTo, this.invocationId, this.outcome);
      return;
    }
    if (caller && this.completing) {
      // The completion being committed has its waiting callers already: this one is answered after it.
      (this.late ??= []).push({ delivery, envelope });
      return;
    }
    if (replyTo) (this.moreCallers ??= []).push(replyTo);
    if (caller) {
      // Its caller is known here only: the message stays until the completion that answers it commits.
      if (!this.waitingCallers().some((c) => c.invocationId === caller.invocationId && c.index === caller.index)) (this.moreWaiting ??= []).push(caller);
      (this.heldUntilDone ??= []).push(delivery);
    } else if (this.durable) {
      delivery.settle();
    } else {
      (this.duplicates ??= []).push(delivery);
    }
  }

  /** Calls `then` once the call or awakeable at `index` has its outcome (see `entryCompleted`); returns how to stop waiting. */
  waitForEntry(index: number, then: (outcome: Outcome) => void): () => void {
    this.entryWaiters ??= new Map();
    const waiters = this.entryWaiters.get(index) ?? new Set();
    waiters.add(then);
    this.entryWaiters.set(index, waiters);
    return () => {
      waiters.delete(then);
      if (waiters.size === 0 && this.entryWaiters?.get(index) === waiters) this.entryWaiters.delete(index);
    };
  }

  /** A complete-entry command for `index` committed: the handler waiting there goes on. */
  entryCompleted(index: number, outcome: Outcome): void {
    const waiters = this.entryWaiters?.get(index);
    this.entryWaiters?.delete(index);
    for (const waiter of waiters ?? []) waiter(outcome);
  }

  /** A commit recorded it: its messages are settled, and the transport forgets them. */
  recorded(): void {
    this.durable = true;
    if (this.first && !this.firstSettled) {
      this.firstSettled = true;
      this.first.settle();
    }
    for (const delivery of this.duplicates?.splice(0) ?? []) delivery.settle();
  }

  /**
   * Holds a complete-entry command for entry `index`, not committed yet, until it is (see
   * `takeEarly`). Refused (false) past a few: nothing is written for it meanwhile.
   */
  holdEarly(index: number, completion: EarlyCompletion): boolean {
    this.early ??= new Map();
    let held = 0;
    for (const list of this.early.values()) held += list.length;
    if (held >= MAX_EARLY) return false;
    const list = this.early.get(index) ?? [];
    list.push(completion);
    this.early.set(index, list);
    return true;
  }

  /** The early completions held for `index`, now that its entry committed. */
  takeEarly(index: number): EarlyCompletion[] {
    const list = this.early?.get(index) ?? [];
    this.early?.delete(index);
    return list;
  }

  /** Its messages, when nothing of it committed, are left for the partition's next owner. */
  abandon(): void {
    if (this.first && !this.firstSettled && !this.durable) {
      this.firstSettled = true;
      this.first.abandon();
    }
    const held = [...(this.duplicates?.splice(0) ?? []), ...(this.heldUntilDone?.splice(0) ?? []), ...(this.late?.splice(0) ?? []).map((l) => l.delivery)];
    for (const list of this.early?.values() ?? []) held.push(...list.map((e) => e.delivery));
    this.early?.clear();
    for (const delivery of held) delivery.abandon();
  }

  /** Its completion committed: every caller gets the outcome (and later duplicates too). */
  completed(outcome: Outcome): void {
    this.outcome = outcome;
    this.recorded();
    for (const delivery of this.heldUntilDone?.splice(0) ?? []) delivery.settle();
    // Completions for entries that never committed: nothing waits for them any more.
    for (const list of this.early?.values() ?? []) for (const { delivery } of list) delivery.settle();
    this.early?.clear();
    const { replyTo } = this.envelope;
    if (replyTo) this.answers.reply(replyTo, this.invocationId, outcome);
    for (const to of this.moreCallers?.splice(0) ?? []) this.answers.reply(to, this.invocationId, outcome);
    for (const { delivery, envelope } of this.late?.splice(0) ?? []) this.answers.late(delivery, envelope, outcome);
  }

  /** Resolves once the settle of its first message reached the transport (crash tests). */
  async flush(): Promise<void> {
    await this.first?.flush();
  }
}
