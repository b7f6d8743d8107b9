import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { CancelledError, TerminalError } from "../../sdk/index.js";
import {
  type Caller,
  type ControlCommand,
  type Envelope,
  type ReplyAddress,
  type Target,
  childInvocationId,
  decode,
  encode,
  parseTargetLabel,
  partitionOfTarget,
  workflowRunInvocationId,
  targetLabel,
} from "../../sdk/internal.js";
import type { Clock } from "../clock.js";
import type { HostConfig } from "../config.js";
import { CommitTooLargeError, HostClosedError, InvocationKilledError } from "../errors.js";
import { CrashPoint, crashPoint, isArmed } from "../faults.js";
import {
  type EncodedEffects,
  type InvocationResult,
  type Progress,
  type Registry,
  type ResolvedHandler,
  type ResolvedRetryPolicy,
  invoke,
  terminalOutcome,
} from "../invoke/index.js";
import type {
  CommitRecord,
  CompletionRecord,
  EntryRecord,
  InvocationRecord,
  InvocationRow,
  JournalEntry,
  OutboxEntry,
  Outcome,
  ProgressRecord,
  PromiseWrite,
  StateWrite,
  Store,
  TimerEntry,
  TimersRecord,
} from "../store/index.js";
import { retryUntilAborted } from "../timing.js";
import { KeyQueue } from "./key-queue.js";
import { PartitionInvocationScope, type ScopeServices } from "./invocation-scope.js";
import { type Answers, LiveInvocation } from "./live-invocation.js";
import { type LiveInvocationView, NO_OBSERVER, type PartitionObserver } from "./observer.js";
import { type Checkpoint, type CommitLog, type Committed, type Delivery, type Replier, type Router, type UnservedTargets, inboxWriteHeld } from "./ports.js";
import { PartitionTimers } from "./timers.js";

export interface ProcessorDeps {
  partition: number;
  registry: Registry;
  config: Pick<HostConfig, "partitions" | "maxPayloadBytes" | "idempotencyRetentionMs" | "alwaysReplay" | "maxLostAttempts">;
  retryPolicy: ResolvedRetryPolicy;
  /** Reads of committed state, completions and timers. Writes go through `commitLog` only. */
  store: Store;
  commitLog: CommitLog;
  router: Router;
  replier: Replier;
  clock: Clock;
  inbox: Checkpoint;
  /** Aborted when the partition must stop at once (lost, fenced, or the grace period is over). */
  signal: AbortSignal;
  log: Logger;
  /** See `ProcessorFactory`. */
  countLosses?: boolean;
  /** NATS mode: targets the namespace serves and this host does not. */
  unserved?: UnservedTargets;
  /** Hears the partition's timings and outcomes (metrics). @default nothing listens */
  observer?: PartitionObserver;
}

/** How long a message for a target served only by other hosts waits before this host looks at it again. */
const UNSERVED_RETRY_MS = 5000;

/** What a transport makes a partition's processor from: the transport-free part, given its ports. */
export type ProcessorFactory = (ports: {
  partition: number;
  commitLog: CommitLog;
  inbox: Checkpoint;
  signal: AbortSignal;
  log: Logger;
  /** Whether invocations found running as the partition starts count a lost attempt (not after a NATS outage). @default true */
  countLosses?: boolean;
}) => PartitionProcessor;

/**
 * What a partition does with each message of its inbox, whatever transport brought it: refuse it,
 * answer it from its completion record, keep it as a timer (a delayed send), or run it on its lane
 * (one at a time per exclusive key, in arrival order) and commit what it did. The only place that
 * settles a delivery, and only once its effects are durable: then its sends are released, it is
 * settled, and its caller answered. Also owns the partition's timers.
 */
export class PartitionProcessor {
  private readonly queue = new KeyQueue(() => this.changed());
  private readonly timers: PartitionTimers;
  private readonly log: Logger;
  private readonly observer: PartitionObserver;
  /** When each live invocation was put on its lane: where its end-to-end time starts. */
  private readonly scheduledAt = new WeakMap<LiveInvocation, number>();
  /** Invocations the partition holds, by id: running, queued behind their key, suspended or backing off. */
  private readonly live = new Map<string, LiveInvocation>();
  /** The live invocations of each lane, in order: the first holds it. */
  private readonly lanes = new Map<string, LiveInvocation[]>();
  /** Lanes whose running invocation waits on the clock (a sleep, a retry's backoff), with how many waits. */
  private readonly parkedLanes = new Map<string, number>();
  /** Lanes whose invocation runs a step's function now: busy, whatever else it waits on. */
  private readonly stepLanes = new Map<string, number>();
  /**
   * Lanes whose invocation goes on since one of its waits ended, although another is still pending
   * (the loser of a race): busy until it waits anew or ends. One that did nothing in the turn after
   * the wait ended (it awaits the other half of a Promise.all) is waiting again.
   */
  private readonly wokenLanes = new Set<string>();
  /** Steps started and commits made per lane: what tells a woken handler that goes on from one that waits on. */
  private readonly laneActivity = new Map<string, number>();
  /** Handlers waiting for a workflow promise, by `object\u0000key\u0000name`. */
  private readonly promiseWaiters = new Map<string, Set<() => void>>();
  /** Commits made beside the lanes (acceptances, complete-entry commands, answers to waiting handlers), in flight. */
  private sideCommits = 0;
  private changeWaiters: Array<() => void> = [];

  /** What every invocation's scope reaches of this processor. */
  private readonly scopeServices: ScopeServices;

  constructor(private readonly deps: ProcessorDeps) {
    this.log = deps.log;
    this.observer = deps.observer ?? NO_OBSERVER;
    this.timers = new PartitionTimers(deps);
    this.scopeServices = {
      partition: deps.partition,
      store: deps.store,
      clock: deps.clock,
      alwaysReplay: deps.config.alwaysReplay,
      waitOnClock: (invocation, lane, atMs, attempt, canCancel) =>
        this.waitOnClock(lane, atMs, attempt, canCancel ? cancellable(invocation) : undefined).then(() => this.goesOn(invocation)),
      awaitEntry: (invocation, lane, index, attempt, canCancel) => this.awaitEntry(invocation, lane, index, attempt, canCancel),
      // The invoker's own waits: a kill ends them (and the attempt loop) at once.
      // A pending cancel ends them early, to be thrown by the next attempt, unless the failed attempt
      // threw it already (`afterCancel`: its compensation failed): then they wait as usual.
      waitForControl: (invocation, lane, afterCancel) =>
        this.parked<"resume" | "cancel">(lane, undefined, () => () => undefined, {
          invocation,
          answer: (command) => {
            if (command === "kill" || invocation.stop === "kill") return killedError(invocation);
            if (command === "resume" || command === "cancel") return { value: command };
            return command === undefined && invocation.stop === "cancel" && !afterCancel ? { value: "cancel" } : undefined;
          },
        }),
      backoff: (invocation, lane, atMs, afterCancel) =>
        this.waitOnClock(lane, atMs, undefined, {
          invocation,
          answer: (command) => {
            if (command === "kill" || invocation.stop === "kill") return killedError(invocation);
            return command === "resume" || command === "cancel" || (invocation.stop === "cancel" && !afterCancel) ? { value: undefined } : undefined;
          },
        }).then(() => this.goesOn(invocation)),
      commitProgress: (invocation, lane, label, progress, heldKeys) => {
        this.acted(lane);
        return this.commitProgress(invocation, label, progress, heldKeys);
      },
      promiseChanged: (invocation, lane, target, name, attempt, canCancel) =>
        this.promiseChanged(lane, target, name, attempt, canCancel ? cancellable(invocation) : undefined).then(() => this.goesOn(invocation)),
      stepRunning: (lane, delta) => {
        if (delta > 0) this.acted(lane);
        count(this.stepLanes, lane, delta);
        this.changed();
      },
    };
  }

  /**
   * Starts the partition's timers and resumes the invocations its tables hold, in the order they
   * were accepted: call once the tables are caught up (after a take-over), before any delivery.
   */
  start(): void {
    this.timers.start();
    const { store, partition } = this.deps;
    const rows = store.readInvocations(partition).sort((a, b) => a.row.seq - b.row.seq);
    for (const { invocationId, row } of rows) {
      // Never expected (a row is removed by its invocation's completion), but never run twice.
      if (store.readCompletion(partition, invocationId)) continue;
      const invocation = LiveInvocation.resumed(row, store.readJournal(partition, invocationId), this.answers);
      // Running when its last owner stopped (crashed, lost the partition): that attempt is lost.
      if (row.status === "running" && this.deps.countLosses !== false) invocation.lostAttempts++;
      this.schedule(invocation, this.deps.registry.resolve(row.envelope.target));
    }
    if (rows.length > 0) this.log.debug({ invocations: rows.length }, "resuming the partition's live invocations");
  }

  stop(): void {
    this.timers.stop();
  }

  /** The invocations held in memory now (those without a row are only here): read-only, for the admin endpoint. */
  liveInvocations(): LiveInvocationView[] {
    return [...this.live.values()].map((invocation) => ({
      invocationId: invocation.invocationId,
      envelope: invocation.envelope,
      failedAttempts: invocation.failedAttempts,
      hasRow: invocation.hasRow,
      journal: invocation.journal,
    }));
  }

  /**
   * Resolves when nothing runs but invocations waiting on the clock (a sleep, a retry's backoff) and
   * those queued behind them: what a test clock must move for, and what a stop's grace period waits
   * for (what waits is in the partition's tables, and resumes at the next start or on the next owner).
   */
  async settled(): Promise<void> {
    for (;;) {
      await this.timers.idle();
      if (!this.busy) return;
      await new Promise<void>((resolve) => this.changeWaiters.push(resolve));
    }
  }

  /** Whether invocations run (other than waiting on the clock), are being accepted, or timers fire. */
  get busy(): boolean {
    let waiting = 0;
    for (const lane of this.parkedLanes.keys()) if (!this.stepLanes.has(lane) && !this.wokenLanes.has(lane)) waiting += this.queue.sizeOf(lane);
    return this.queue.size > waiting || this.sideCommits > 0 || this.timers.firing;
  }

  private changed(): void {
    for (const resolve of this.changeWaiters.splice(0)) resolve();
  }

  /** Waits for the partition's clock (a test clock moves it); the lane counts as settled meanwhile. */
  private waitOnClock(lane: string, atMs: number, attempt?: AbortSignal, interrupt?: Interrupt<void>): Promise<void> {
    return this.parked(lane, attempt, (resolve) => this.deps.clock.wakeAt(atMs, () => resolve()), interrupt);
  }

  /** Waits for the outcome of a call or awakeable entry; the lane counts as settled meanwhile (the work is elsewhere). */
  private async awaitEntry(invocation: LiveInvocation, lane: string, index: number, attempt: AbortSignal, canCancel: boolean): Promise<Outcome> {
    const known = outcomeOf(invocation.journal.get(index));
    if (known) return known;
    return this.parked<Outcome>(lane, attempt, (resolve) => invocation.waitForEntry(index, resolve), canCancel ? cancellable(invocation) : undefined);
  }

  private acted(lane: string): void {
    this.laneActivity.set(lane, (this.laneActivity.get(lane) ?? 0) + 1);
  }

  /** Resolves once a commit resolved or rejected a workflow promise; the lane counts as settled meanwhile. */
  private promiseChanged(lane: string, target: Target, name: string, attempt: AbortSignal, interrupt: Interrupt<void> | undefined): Promise<void> {
    const at = promiseKey(target, name);
    return this.parked<void>(lane, attempt, (resolve) => {
      const waiters = this.promiseWaiters.get(at) ?? new Set();
      const waiter = () => resolve();
      waiters.add(waiter);
      this.promiseWaiters.set(at, waiters);
      return () => {
        waiters.delete(waiter);
        if (waiters.size === 0 && this.promiseWaiters.get(at) === waiters) this.promiseWaiters.delete(at);
      };
    }, interrupt);
  }

  /** A commit resolved these promises: whoever waits on them reads them again. */
  private promisesWritten(target: Target, promises: readonly { name: string }[] | undefined): void {
    for (const { name } of promises ?? []) {
      const at = promiseKey(target, name);
      const waiters = this.promiseWaiters.get(at);
      this.promiseWaiters.delete(at);
      for (const waiter of waiters ?? []) waiter();
    }
  }

  /**
   * Waits for what `start` starts, with the lane parked: not busy, since what it waits for is the
   * clock or another invocation. Rejects with `HostClosedError` when the partition stops; once the
   * attempt ends (`attempt` aborts: the wait lost a race, say) it is dropped and never settles.
   * `start` returns how to cancel its wait. `interrupt` says how an operator's command ends it.
   */
  private parked<T>(lane: string, attempt: AbortSignal | undefined, start: (resolve: (value: T) => void) => () => void, interrupt?: Interrupt<T>): Promise<T> {
    const { signal, partition } = this.deps;
    if (signal.aborted) return Promise.reject(new HostClosedError(`partition ${partition} stopped`));
    if (attempt?.aborted) return new Promise<T>(() => undefined);
    const early = interrupt?.answer(undefined);
    if (early instanceof Error) return Promise.reject(early);
    if (early) return Promise.resolve(early.value);
    count(this.parkedLanes, lane, 1);
    this.wokenLanes.delete(lane);
    this.changed();
    return new Promise<T>((resolve, reject) => {
      let cancel = (): void => undefined;
      let stopListening = (): void => undefined;
      let ended = false;
      const end = (): boolean => {
        if (ended) return false;
        ended = true;
        signal.removeEventListener("abort", onStop);
        attempt?.removeEventListener("abort", onAttemptEnd);
        stopListening();
        count(this.parkedLanes, lane, -1);
        this.changed();
        return true;
      };
      const onStop = () => {
        cancel();
        if (end()) reject(new HostClosedError(`partition ${partition} stopped`));
      };
      const onAttemptEnd = () => {
        cancel();
        end();
      };
      /** The wait is over and the handler goes on: busy meanwhile (see `wokenLanes`). */
      const wake = (settle: () => void) => {
        if (!end()) return;
        this.wokenLanes.add(lane);
        const activity = this.laneActivity.get(lane) ?? 0;
        setImmediate(() => {
          if ((this.laneActivity.get(lane) ?? 0) !== activity) return;
          this.wokenLanes.delete(lane);
          this.changed();
        });
        settle();
      };
      signal.addEventListener("abort", onStop, { once: true });
      attempt?.addEventListener("abort", onAttemptEnd, { once: true });
      if (interrupt) {
        stopListening = interrupt.invocation.onControl((command) => {
          const answer = interrupt.answer(command);
          if (!answer) return;
          cancel();
          wake(() => (answer instanceof Error ? reject(answer) : resolve(answer.value)));
        });
      }
      cancel = start((value) => wake(() => resolve(value)));
    });
  }

  deliver(delivery: Delivery): void {
    const { parsed } = delivery;
    if (delivery.receivedAtMs !== undefined) this.observer.inboxWait(Math.max(0, Date.now() - delivery.receivedAtMs));
    try {
      if (!parsed.ok) {
        this.log.warn({ problem: parsed.problem }, "undecodable inbox message refused");
        delivery.settle();
        if (parsed.replyTo) this.reply(parsed.replyTo, "", terminalOutcome(new TerminalError(parsed.problem, { errorCode: 400 })));
        return;
      }
      const { envelope } = parsed;
      const { target, invocationId } = envelope;
      if (envelope.control) return this.passedOn(delivery, envelope, envelope.control);
      if (partitionOfTarget(target, invocationId, this.deps.config.partitions) !== this.deps.partition) {
        // A client that computes partitions differently would let one key run on two partitions.
        const problem = `${target.name}.${target.handler}: sent to partition ${this.deps.partition}, which does not hold this target; is the client configured with another partition count?`;
        return this.refuse(delivery, envelope, problem, 400, "misrouted inbox message refused");
      }
      if (envelope.delayMs !== undefined && (envelope.replyTo || envelope.caller)) {
        return this.refuse(delivery, envelope, `${target.name}.${target.handler}: a call cannot be delayed; only a send can`, 400, "delayed call refused");
      }
      if (envelope.completes) return this.completeEntry(delivery, envelope, envelope.completes);
      if (envelope.delayMs !== undefined) {
        // Its own lane, which also keeps a duplicate from being accepted beside the original.
        this.queue.run(`i:${invocationId}`, () => this.holdingLane(() => this.processDelayed(delivery, envelope), () => delivery.abandon(), invocationId));
        return;
      }
      const handler = this.deps.registry.resolve(target);
      // A workflow's run is one invocation per key, however it was started: a second run gets the first's result.
      const effective = !(handler instanceof TerminalError) && handler.workflow === "run" ? { ...envelope, invocationId: workflowRunInvocationId(targetLabel(target)) } : envelope;
      const running = this.live.get(effective.invocationId);
      if (running) {
        if (targetLabel(running.envelope.target) !== targetLabel(target)) return this.refuseReusedId(delivery, effective, targetLabel(running.envelope.target));
        running.attach(delivery, effective);
        return;
      }
      const done = this.deps.store.readCompletion(this.deps.partition, effective.invocationId);
      if (done) return this.answerFromCompletion(delivery, effective, done);
      if (handler instanceof TerminalError && !this.deps.registry.serves(target)) return this.refuseUnserved(delivery, effective, handler);
      const invocation = LiveInvocation.delivered(delivery, effective, this.answers);
      // Delivered before and never settled: the owner it was delivered to stopped while it ran (or
      // before it could run: counted all the same, a little early rather than never).
      if ((delivery.deliveries ?? 1) > 1) invocation.lostAttempts = (delivery.deliveries ?? 1) - 1;
      this.schedule(invocation, handler);
    } catch (error) {
      // Never let one message end the inbox source's loop; left for the next owner (or a redelivery).
      this.log.error({ err: error }, "inbox message could not be scheduled");
      delivery.abandon();
    }
  }

  /**
   * Puts a live invocation on its lane: exclusive invocations of one key share one, in acceptance
   * order; anything else gets its own. One that must wait behind its key is accepted into the
   * partition's tables at once, so its message does not stay unsettled while the key is held.
   */
  private schedule(invocation: LiveInvocation, handler: ResolvedHandler | TerminalError): void {
    const { target, invocationId } = invocation.envelope;
    const keyed = target.type === "object" && !(handler instanceof TerminalError) && handler.kind === "exclusive";
    const lane = keyed ? `k:${target.name}\u0000${target.key}` : `i:${invocationId}`;
    invocation.lane = lane;
    this.live.set(invocationId, invocation);
    if (keyed) {
      const inLane = this.lanes.get(lane);
      if (!inLane) {
        this.lanes.set(lane, [invocation]);
      } else {
        inLane.push(invocation);
        // Accepted together with every one ahead of it that has no row yet (the one running now, say):
        // a restart then resumes them in the order they arrived.
        for (const waiting of inLane) if (!waiting.hasRow && !waiting.completing) this.accept(waiting);
      }
    }
    const scheduledAt = performance.now();
    this.scheduledAt.set(invocation, scheduledAt);
    this.queue.run(lane, () => {
      this.observer.keyQueueWait(invocation.envelope, performance.now() - scheduledAt);
      return this.runOnLane(invocation, handler, lane, keyed);
    });
  }

  private async runOnLane(invocation: LiveInvocation, handler: ResolvedHandler | TerminalError, lane: string, keyed: boolean): Promise<void> {
    try {
      await this.holdingLane(
        () => this.process(invocation, handler, lane),
        () => this.drop(invocation),
        invocation.invocationId,
      );
    } finally {
      if (keyed) {
        // A lane runs its invocations in the order they were scheduled: this one is its first.
        const inLane = this.lanes.get(lane);
        inLane?.shift();
        if (!inLane?.length) this.lanes.delete(lane);
      }
      this.wokenLanes.delete(lane);
      this.laneActivity.delete(lane);
    }
  }

  /** Commits an invocation that waits for its key (or holds it) as `queued`: from then on the tables hold it. */
  private accept(invocation: LiveInvocation): void {
    const { deps } = this;
    invocation.hasRow = true; // its later commits land after this one
    this.sideCommits++;
    const record: ProgressRecord = {
      kind: "progress",
      partition: deps.partition,
      invocationId: invocation.invocationId,
      // The one running ahead of them is accepted as running: losing its host counts as a lost attempt.
      row: invocation.row({ status: invocation.ran ? "running" : "queued" }),
      journal: [],
      stateWrites: [],
      outbox: [],
      position: deps.inbox.checkpoint(),
    };
    void (async () => {
      try {
        if (!(await invocation.inboxWriteHeld())) return;
        // A suspension point or a backoff of it was issued meanwhile: its row is newer than this one.
        if (invocation.progressIssued) return;
        if (await this.commit(record)) invocation.recorded();
      } catch (err) {
        // Its own turn on the lane commits it anyway; only the early settle is lost.
        this.log.warn({ err, invocationId: invocation.invocationId }, "could not accept an invocation queued behind its key");
      } finally {
        this.sideCommits--;
        this.changed();
      }
    })();
  }

  /**
   * A commit beside the lanes for one message: `work` commits and settles it. Left for the next
   * owner when the partition stops first, or when it fails (a redelivery tries again).
   */
  private sideCommit(delivery: Delivery, work: () => Promise<void>): void {
    this.sideCommits++;
    void (async () => {
      try {
        if (!(await inboxWriteHeld(delivery))) return delivery.abandon();
        await work();
      } catch (err) {
        this.log.warn({ err }, "could not commit an inbox message; it is delivered again");
        delivery.abandon();
      } finally {
        this.sideCommits--;
        this.changed();
      }
    })();
  }

  /**
   * A complete-entry command: the outcome of a call (from its callee) or of an awakeable, for an
   * invocation of this partition that waits for it. Written into that invocation's journal, then
   * the invocation goes on. One for an invocation that is no longer live, or for an entry that has
   * its outcome already (a duplicate), is dropped.
   */
  private completeEntry(delivery: Delivery, envelope: Envelope, completes: { index: number; from?: string }): void {
    const { invocationId } = envelope;
    const { index, from } = completes;
    const outcome = decodeOutcome(delivery.data);
    const invocation = this.live.get(invocationId);
    if (!outcome) {
      this.log.warn({ invocationId, index }, "complete-entry command whose outcome does not decode; dropped");
      return delivery.settle();
    }
    // Completing: what it waited for no longer matters, and nothing may be written after its journal goes.
    if (!invocation || invocation.completing) {
      this.log.debug({ invocationId, index }, "complete-entry command for an invocation that is not live; dropped");
      return delivery.settle();
    }
    const entry = invocation.journal.get(index);
    if (entry === undefined) {
      // An awakeable resolved before its entry committed (its id handed out at once), or a forgery for
      // an index the invocation has not reached: nothing is written until its entry commits.
      if (from !== undefined && invocation.holdEarly(index, { delivery, from, outcome })) return;
      this.log.warn({ invocationId, index }, "complete-entry command for an entry that is not in the journal; dropped");
      return delivery.settle();
    }
    this.commitCompletion(invocation, delivery, index, entry, from, outcome);
  }

  /** Writes a call's or awakeable's outcome into the waiting invocation's journal, if it is the one it waits for. */
  private commitCompletion(invocation: LiveInvocation, delivery: Delivery, index: number, entry: JournalEntry, from: string | undefined, outcome: Outcome): void {
    const { deps } = this;
    const { invocationId } = invocation;
    let completed: JournalEntry | undefined;
    if (entry.type === "call" && entry.callee !== from) this.log.warn({ invocationId, index, from, callee: entry.callee }, "complete-entry command from another invocation than the callee; refused");
    else if (entry.type === "awakeable" && entry.nonce !== from) this.log.warn({ invocationId, index }, "complete-entry command for an awakeable without its id's nonce; refused");
    else if (entry.type === "call" || entry.type === "awakeable") completed = entry.outcome ? undefined : { ...entry, outcome };
    else this.log.warn({ invocationId, index, entry: entry.type }, "complete-entry command for an entry that waits for nothing; dropped");
    if (!completed) return delivery.settle();
    const record: EntryRecord = { kind: "entry", partition: deps.partition, invocationId, index, entry: completed, outbox: [], position: deps.inbox.checkpoint() };
    const written = completed;
    this.sideCommit(delivery, async () => {
      // Ended while this command's inbox write was made durable: nothing may be written after its completion.
      if (invocation.completing) return delivery.settle();
      // The handler goes on once it is written, unless it waits on more: its row says so (a loss from here on is a lost attempt).
      if (invocation.hasRow && invocation.status === "suspended" && !this.waitsOnMore(invocation, 1)) record.row = invocation.runningRow();
      if (!(await this.commit(record))) return delivery.abandon();
      // In memory only once durable: a redelivery after a failed commit must not be taken for a duplicate.
      invocation.setEntry(index, written);
      delivery.settle();
      invocation.entryCompleted(index, outcome);
    });
  }

  /**
   * Settles a message with the answer it gets without running: over the replier to a client, or, for
   * a handler waiting for it, as a complete-entry command committed first (a handler's wait is durable).
   */
  private conclude(delivery: Delivery, envelope: Envelope, outcome: Outcome): void {
    const { caller, replyTo, invocationId } = envelope;
    if (!caller) {
      delivery.settle();
      if (replyTo) this.reply(replyTo, invocationId, outcome);
      return;
    }
    const { deps } = this;
    const record: TimersRecord = { kind: "timers", partition: deps.partition, added: [], fired: [], outbox: [completionMessage(caller, invocationId, outcome)], position: deps.inbox.checkpoint() };
    this.sideCommit(delivery, async () => {
      const committed = await this.commit(record);
      if (!committed) return delivery.abandon();
      deps.router.release(deps.partition, committed);
      delivery.settle();
    });
  }

  /** Leaves an invocation to the partition's next start or owner: what it committed stays in the tables. */
  private drop(invocation: LiveInvocation): void {
    if (this.live.get(invocation.invocationId) === invocation) this.live.delete(invocation.invocationId);
    invocation.abandon();
  }

  private refuse(delivery: Delivery, envelope: Envelope, problem: string, code: number, what: string): void {
    this.log.warn({ problem, invocationId: envelope.invocationId }, what);
    this.conclude(delivery, envelope, terminalOutcome(new TerminalError(problem, { errorCode: code })));
  }

  /**
   * A target this host does not serve: answered, never recorded as a completion, so that a retry
   * with the same idempotency key runs once a host serves it. Over NATS, one the namespace serves (a
   * newer host's handler, during a rolling upgrade) is not refused: it waits in the inbox for that host.
   */
  private refuseUnserved(delivery: Delivery, envelope: Envelope, refusal: TerminalError): void {
    if (delivery.retryLater && this.deps.unserved?.waitsForAnotherHost(envelope.target)) return delivery.retryLater(UNSERVED_RETRY_MS);
    if (envelope.replyTo || envelope.caller) return this.refuse(delivery, envelope, refusal.message, refusal.errorCode, "call to a target nobody serves refused");
    // Nobody to answer: the line is all that is left of it.
    this.log.error({ problem: refusal.message, invocationId: envelope.invocationId }, "one-way send to a target nobody serves; dropped");
    delivery.settle();
  }

  /** An invocation id answers for one target only: anything else would hand one handler's result to a caller of another. */
  private refuseReusedId(delivery: Delivery, envelope: Envelope, usedFor: string): void {
    const { target, invocationId } = envelope;
    const problem = `${target.name}.${target.handler}: invocation id ${invocationId} was already used for ${usedFor}; an id (or idempotency key) belongs to one target`;
    this.refuse(delivery, envelope, problem, 409, "invocation id reused for another target; refused");
  }

  private answerFromCompletion(delivery: Delivery, envelope: Envelope, done: CompletionRecord): void {
    if (done.target !== undefined && done.target !== targetLabel(envelope.target)) return this.refuseReusedId(delivery, envelope, done.target);
    this.invocationLog(envelope)().debug("duplicate delivery of a completed invocation; re-sending its result");
    this.conclude(delivery, envelope, done.outcome);
  }

  /** A child logger for one invocation, made on first use: most invocations never log. */
  private invocationLog(envelope: Envelope): () => Logger {
    let log: Logger | undefined;
    const { target, invocationId } = envelope;
    return () =>
      (log ??= this.log.child({
        object: target.name,
        key: target.type === "object" ? target.key : undefined,
        handler: target.handler,
        invocationId,
      }));
  }

  /**
   * An unexpected failure (an LMDB read error, say) is retried in place, holding the lane: moving on
   * would let later invocations of the key overtake this one. Given up only when the partition stops.
   */
  private async holdingLane(work: () => Promise<void>, giveUp: () => void, invocationId: string): Promise<void> {
    const done = await retryUntilAborted(work, this.deps.signal, (err, attempt, retryInMs) =>
      this.log.error({ err, invocationId, attempt, retryInMs }, "invocation failed unexpectedly; retrying"),
    );
    if (!done) giveUp();
  }

  /**
   * Runs one invocation on its lane to its completion, committing its suspension points on the way.
   * Once the partition is stopping, it stops where it is: what it committed stays in the tables, and
   * an invocation that committed nothing leaves its message for the partition's next owner.
   */
  private async process(invocation: LiveInvocation, handler: ResolvedHandler | TerminalError, lane: string): Promise<void> {
    const { deps } = this;
    const { envelope } = invocation;
    const { target, invocationId } = envelope;
    const log = this.invocationLog(envelope);
    if (deps.signal.aborted) return this.drop(invocation);

    const startedAt = performance.now();
    let result: InvocationResult;
    if (handler instanceof TerminalError) {
      result = { outcome: terminalOutcome(handler), effects: undefined, attempts: 0 };
    } else if (invocation.stop === "kill" || (invocation.stop === "cancel" && !invocation.ran)) {
      // Stopped before it ever ran: nothing to compensate, nothing to run.
      const how = invocation.stop === "kill" ? "killed" : "cancelled";
      result = { outcome: terminalOutcome(new CancelledError(`${handler.label}: invocation ${invocationId} was ${how} before it ran`)), effects: undefined, attempts: 0 };
    } else {
      try {
        invocation.ran = true;
        if (invocation.lostAttempts > 0 && invocation.status !== "paused") await this.recordLostAttempts(invocation, handler.label, log);
        const scope = new PartitionInvocationScope(this.scopeServices, invocation, handler, lane, log);
        const runStartedAt = performance.now();
        result = await invoke(handler, invocation.data, scope, { maxPayloadBytes: deps.config.maxPayloadBytes, retryPolicy: deps.retryPolicy, signal: deps.signal });
        this.observer.handlerRun(envelope, performance.now() - runStartedAt);
      } catch (error) {
        if (error instanceof HostClosedError) return this.drop(invocation);
        throw error;
      }
    }
    if (!result.outcome.ok) log().warn({ error: result.outcome.error.message, attempts: result.attempts }, "invocation failed terminally");

    invocation.completing = true;
    if (!(await invocation.inboxWriteHeld())) return this.drop(invocation);
    crashPoint(CrashPoint.BeforeCommit);
    const record = this.completionRecord(envelope, result, invocation.hasRow, invocation.waitingCallers());
    if (result.killed) record.outbox.push(...this.killsOfPendingCalls(invocation));
    const committed = await this.commit(record);
    if (!committed) return this.drop(invocation);
    crashPoint(CrashPoint.AfterCommit);
    const committedAt = performance.now();
    // Committed: from here on nothing may undo it, and nothing that fails may hold the others up.
    deps.router.release(deps.partition, committed);
    this.timers.added(record.timers);
    this.promisesWritten(target, record.promises);
    this.live.delete(invocationId);
    const outcome = committed.record.kind === "invocation" || committed.record.kind === undefined ? committed.record.completion.outcome : result.outcome;
    if (isArmed(CrashPoint.AfterAck)) {
      invocation.recorded();
      await invocation.flush(); // the settle must reach the transport first
    }
    crashPoint(CrashPoint.AfterAck);
    invocation.completed(outcome);
    this.observer.published(performance.now() - committedAt);
    this.observer.completed(envelope, outcome.ok ? "succeeded" : "failed", performance.now() - (this.scheduledAt.get(invocation) ?? startedAt), invocation.hasRow ? invocation.journal : undefined);
    if (this.log.isLevelEnabled("debug")) {
      log().debug({ outcome: outcome.ok ? "ok" : outcome.error.name, attempts: result.attempts, tookMs: Math.round(performance.now() - startedAt) }, "invocation finished");
    }
  }

  /**
   * An invocation whose earlier attempts were lost with their host or partition: its row says it
   * runs now (the next loss counts), or, past `maxLostAttempts`, that it is paused for an operator.
   */
  private async recordLostAttempts(invocation: LiveInvocation, label: string, log: () => Logger): Promise<void> {
    const lost = invocation.lostAttempts;
    const paused = lost >= this.deps.config.maxLostAttempts;
    const lastError = `LostAttemptError: ${lost} attempt${lost === 1 ? "" : "s"} ended with the host or partition running it lost (a crash, an out-of-memory handler, or an event loop blocked past the partition's lease)`;
    await this.commitRow(invocation, invocation.row({ status: paused ? "paused" : "running", lastError }), label);
    if (!paused) return;
    const id = invocation.invocationId;
    log().error(
      { lostAttempts: lost, lastError },
      `invocation paused: ${lost} of its attempts were lost with their host; it may crash every host that runs it. Fix the cause, then \`cairn invocations resume ${id}\`, or \`cairn invocations kill ${id}\``,
    );
  }

  /**
   * An invocation goes on after a sleep, a retry's backoff or a promise: its row says `running` again
   * (committed beside it, not waited for), so that losing its host from here on is a lost attempt.
   * Calls and awakeables say so in the commit of their outcome.
   */
  private goesOn(invocation: LiveInvocation): void {
    if (!invocation.hasRow || invocation.completing || invocation.status === "running" || this.waitsOnMore(invocation, 0)) return;
    this.sideCommits++;
    this.commitRow(invocation, invocation.runningRow(), invocation.label)
      .catch((err: unknown) => {
        if (!(err instanceof HostClosedError)) this.log.warn({ err, invocationId: invocation.invocationId }, "could not record that an invocation runs again");
      })
      .finally(() => {
        this.sideCommits--;
        this.changed();
      });
  }

  /**
   * Whether the invocation still waits on more than `own` waits (a `Promise.all` of a call and a
   * sleep, the loser of a race): then one wait's end does not make it run.
   */
  private waitsOnMore(invocation: LiveInvocation, own: number): boolean {
    return invocation.lane !== undefined && (this.parkedLanes.get(invocation.lane) ?? 0) > own;
  }

  /** Commits a new row for a live invocation beside its handler's own commits (a control command, a lost attempt). */
  private async commitRow(invocation: LiveInvocation, row: InvocationRow, label: string): Promise<void> {
    const { deps } = this;
    invocation.hasRow = true;
    invocation.progressIssued = true;
    const record: ProgressRecord = { kind: "progress", partition: deps.partition, invocationId: invocation.invocationId, row, journal: [], stateWrites: [], outbox: [], position: deps.inbox.checkpoint() };
    if (!(await invocation.inboxWriteHeld())) throw new HostClosedError(`${label}: its inbox write failed`);
    if (!(await this.commit(record))) throw new HostClosedError(`${label}: the partition stopped before its commit`);
    invocation.recorded();
  }

  /**
   * An operator's command (`client.cancel/kill/resume`, the admin endpoint, the CLI) for an
   * invocation of this partition: resolves once it is durable (its row records it) and acted on.
   * False when the partition holds no such invocation live (it completed, or lives elsewhere).
   */
  async control(command: ControlCommand, invocationId: string): Promise<boolean> {
    const invocation = this.live.get(invocationId);
    if (!invocation) return false;
    this.sideCommits++;
    try {
      await this.applyControl(invocation, command);
    } finally {
      this.sideCommits--;
      this.changed();
    }
    return true;
  }

  private async applyControl(invocation: LiveInvocation, command: ControlCommand): Promise<void> {
    // Its completion is being committed: it ends anyway.
    if (invocation.completing) return;
    const { label } = invocation;
    let row: InvocationRow;
    switch (command) {
      case "cancel":
        if (invocation.stop !== undefined) return;
        invocation.stop = "cancel";
        row = invocation.currentRow();
        break;
      case "kill":
        if (invocation.stop === "kill") return;
        invocation.stop = "kill";
        row = invocation.currentRow();
        break;
      case "resume":
        // One backing off runs now; one running or waiting has nothing to resume.
        if (invocation.status !== "paused") return invocation.controlled("resume");
        invocation.failedAttempts = 0;
        invocation.lostAttempts = 0;
        row = invocation.row({ status: "running" });
        break;
      default:
        return assertNever(command);
    }
    await this.commitRow(invocation, row, label);
    this.invocationLog(invocation.envelope)().warn({ command }, CONTROL_LOG[command]);
    invocation.controlled(command);
  }

  /**
   * A cancel or kill passed on by a caller to the callee it waits on: taken only from the caller that
   * started the callee (its id, partition and journal index), anything else is dropped. Not from a
   * caller that joined later with the same id: anyone may call an invocation whose id they can
   * derive (a workflow's run, an idempotency key) and so join it, but not the one that started it.
   */
  private passedOn(delivery: Delivery, envelope: Envelope, command: ControlCommand): void {
    const invocation = this.live.get(envelope.invocationId);
    const from = envelope.caller;
    const first = invocation?.envelope.caller;
    const answered = from !== undefined && first !== undefined && first.invocationId === from.invocationId && first.partition === from.partition && first.index === from.index;
    if (!invocation || !answered || command === "resume") {
      this.log.debug({ invocationId: envelope.invocationId, command }, "control command from a caller this invocation does not answer (or that is no longer live); dropped");
      return delivery.settle();
    }
    this.sideCommit(delivery, async () => {
      await this.applyControl(invocation, command);
      delivery.settle();
    });
  }

  /** Kill commands for the callees a killed invocation waits on. */
  private killsOfPendingCalls(invocation: LiveInvocation): OutboxEntry[] {
    const { deps } = this;
    const { invocationId, target } = invocation.envelope;
    const kills: OutboxEntry[] = [];
    for (const [index, entry] of invocation.journal) {
      if (entry.type !== "call" || entry.outcome) continue;
      const calleeTarget = parseTargetLabel(entry.target);
      if (!calleeTarget) continue;
      const callee = entry.callee as Envelope["invocationId"];
      kills.push({
        partition: partitionOfTarget(calleeTarget, callee, deps.config.partitions),
        envelope: { invocationId: callee, target: calleeTarget, caller: { partition: deps.partition, invocationId, target, index }, control: "kill" },
        data: new Uint8Array(0),
      });
    }
    return kills;
  }

  /**
   * Commits a suspension point (or a durable backoff): the invocation's row, its journal entries
   * since the last one, and the state writes and sends made meanwhile, whose sends then leave.
   */
  private async commitProgress(invocation: LiveInvocation, label: string, progress: Progress, heldKeys: readonly string[]): Promise<void> {
    const { deps } = this;
    // Killed meanwhile (its handler's code runs on unstoppable): nothing more of it is written.
    if (invocation.completing) throw new HostClosedError(`${label}: the invocation has ended`);
    if (!(await invocation.inboxWriteHeld())) throw new HostClosedError(`${label}: its inbox write failed`);
    invocation.failedAttempts = progress.failedAttempts;
    // Where the handler saw the operator's cancel is in this commit's journal: not thrown again.
    if (progress.cancelSeen && invocation.stop === "cancel") invocation.stop = "cancelled";
    // It made progress: the attempts lost before are not a poison invocation's.
    if (progress.journal.length > 0) invocation.lostAttempts = 0;
    const { status, wakeAtMs, nextAttemptAtMs, lastError } = progress;
    const row = invocation.row({ status, failedAttempts: progress.failedAttempts });
    if (wakeAtMs !== undefined) row.wakeAtMs = wakeAtMs;
    if (nextAttemptAtMs !== undefined) row.nextAttemptAtMs = nextAttemptAtMs;
    if (lastError !== undefined) row.lastError = lastError;
    const { journal } = progress;
    const record: ProgressRecord = {
      kind: "progress",
      partition: deps.partition,
      invocationId: invocation.invocationId,
      row,
      journal,
      ...this.effectRecords(invocation.envelope, progress.effects, heldKeys),
      position: deps.inbox.checkpoint(),
    };
    invocation.hasRow = true;
    invocation.progressIssued = true;
    let committed: Committed | undefined;
    try {
      committed = await this.commit(record);
    } catch (error) {
      // No retry makes it fit: the handler gets a TerminalError where it suspended.
      if (error instanceof CommitTooLargeError) throw new TerminalError(`${label}: ${error.message}`, { errorCode: 413 });
      throw error;
    }
    if (!committed) throw new HostClosedError(`${label}: the partition stopped before its commit`);
    deps.router.release(deps.partition, committed);
    this.timers.added(record.timers);
    this.promisesWritten(invocation.envelope.target, record.promises);
    // A complete-entry command for one of these may have committed meanwhile: `setEntry` keeps what knows more.
    for (const [index, entry] of journal) invocation.setEntry(index, entry);
    // Completions that came before their entry committed: taken now if they are its.
    for (const [index] of journal) {
      const entry = invocation.journal.get(index);
      for (const early of invocation.takeEarly(index)) if (entry) this.commitCompletion(invocation, early.delivery, index, entry, early.from, early.outcome);
    }
    invocation.recorded();
  }

  /** A delayed send, unless it completed already. */
  private async processDelayed(delivery: Delivery, envelope: Envelope): Promise<void> {
    const { deps } = this;
    if (deps.signal.aborted) return delivery.abandon();
    const done = deps.store.readCompletion(deps.partition, envelope.invocationId);
    if (done) return this.answerFromCompletion(delivery, envelope, done);
    return this.acceptDelayed(delivery, envelope);
  }

  /** A delayed send: kept as a timer of this partition, committed before the message is settled. */
  private async acceptDelayed(delivery: Delivery, envelope: Envelope): Promise<void> {
    const { deps } = this;
    const { invocationId, target } = envelope;
    const timer: TimerEntry = {
      dueMs: deps.clock.now() + (envelope.delayMs ?? 0),
      id: invocationId,
      send: { partition: deps.partition, envelope: { invocationId, target }, data: delivery.data },
    };
    const record: TimersRecord = { kind: "timers", partition: deps.partition, added: [timer], fired: [], outbox: [], position: deps.inbox.checkpoint() };
    if (!(await inboxWriteHeld(delivery))) return delivery.abandon();
    const label = `${target.name}.${target.handler}: the delayed send ${invocationId}`;
    const { maxPayloadBytes } = deps.config;
    // Refused now rather than kept for its whole delay only to be refused when it comes due.
    if (delivery.data.byteLength > maxPayloadBytes) {
      return this.failDelayed(delivery, envelope, `${label}: payload of ${delivery.data.byteLength} bytes exceeds the maximum of ${maxPayloadBytes} bytes`);
    }
    let committed: Committed | undefined;
    try {
      committed = await this.commit(record);
    } catch (error) {
      // No retry makes it fit: it fails for good, as an invocation whose commit is too large does.
      if (error instanceof CommitTooLargeError) return this.failDelayed(delivery, envelope, `${label} is too large to keep as a timer: ${error.message}`);
      throw error;
    }
    if (!committed) return delivery.abandon();
    this.timers.added([timer]);
    delivery.settle();
  }

  /** Records a delayed send that cannot be kept as failed (413), like any invocation that cannot run. */
  private async failDelayed(delivery: Delivery, envelope: Envelope, problem: string): Promise<void> {
    this.log.warn({ invocationId: envelope.invocationId, bytes: delivery.data.byteLength, problem }, "delayed send too large to keep; recorded as failed");
    const failure = terminalOutcome(new TerminalError(problem, { errorCode: 413 }));
    const committed = await this.commit(this.completionRecord(envelope, { outcome: failure, effects: undefined, attempts: 0 }, false, []));
    if (!committed) return delivery.abandon();
    delivery.settle();
  }

  /**
   * Commits through the partition's commit log, which retries a failing write in place: the lane
   * waits, so no later invocation of the key can commit first. Undefined when the partition stopped
   * or was fenced before the commit: the message is left for the next owner.
   */
  private async commit(record: CommitRecord): Promise<Committed | undefined> {
    try {
      const startedAt = performance.now();
      const committed = await this.deps.commitLog.commit(record);
      this.observer.commitDone(performance.now() - startedAt);
      return committed;
    } catch (error) {
      if (error instanceof HostClosedError || this.deps.signal.aborted) return undefined;
      throw error;
    }
  }

  /**
   * The state writes, sends and delayed sends of an attempt's effects, as a record holds them. A call
   * carries where its result goes and the keys held up its chain (`heldKeys`).
   */
  private effectRecords(
    envelope: Envelope,
    effects: EncodedEffects | undefined,
    heldKeys: readonly string[],
  ): { stateWrites: StateWrite[]; outbox: OutboxEntry[]; timers?: TimerEntry[]; promises?: PromiseWrite[]; atMs?: number; handler?: string } {
    const { deps } = this;
    const { target, invocationId } = envelope;
    const stateWrites: StateWrite[] = [];
    const outbox: OutboxEntry[] = [];
    const timers: TimerEntry[] = [];
    if (effects && target.type === "object") {
      const base = { object: target.name, key: target.key };
      if (effects.clearedAll) stateWrites.push({ type: "clearAll", ...base });
      for (const { name, value } of effects.writes) {
        stateWrites.push(value ? { type: "set", ...base, name, value } : { type: "delete", ...base, name });
      }
    }
    const now = deps.clock.now();
    for (const send of effects?.sends ?? []) {
      if (send.cancels) {
        const callee = send.cancels.callee as Envelope["invocationId"];
        outbox.push({
          partition: partitionOfTarget(send.target, callee, deps.config.partitions),
          envelope: { invocationId: callee, target: send.target, caller: { partition: deps.partition, invocationId, target, index: send.index }, control: "cancel" },
          data: send.data,
        });
        continue;
      }
      if (send.completes) {
        const { partition, invocationId: waiting, index, nonce } = send.completes;
        outbox.push({ partition, envelope: { invocationId: waiting, target: send.target, completes: { index, from: nonce } }, data: send.data });
        continue;
      }
      // Named by its journal entry: the same id on every attempt, so a send made again is one invocation.
      const childId = (send.call?.callee ?? childInvocationId(invocationId, send.index)) as Envelope["invocationId"];
      const childEnvelope: Envelope = { invocationId: childId, target: send.target };
      if (send.call) {
        childEnvelope.caller = { partition: deps.partition, invocationId, target, index: send.index };
        if (heldKeys.length > 0) childEnvelope.chain = [...heldKeys];
      }
      const entry: OutboxEntry = { partition: partitionOfTarget(send.target, childId, deps.config.partitions), envelope: childEnvelope, data: send.data };
      if (send.delayMs) timers.push({ dueMs: now + send.delayMs, id: childId, send: entry });
      else outbox.push(entry);
    }
    const promises: PromiseWrite[] = target.type === "object" ? (effects?.promises ?? []).map(({ name, outcome }) => ({ object: target.name, key: target.key, name, outcome })) : [];
    // When and by which handler, for the key's history: the host's clock, so a test clock moves it too.
    const history = stateWrites.length > 0 ? { atMs: now, handler: `${target.name}.${target.handler}` } : {};
    return { stateWrites, outbox, ...(timers.length > 0 ? { timers } : {}), ...(promises.length > 0 ? { promises } : {}), ...history };
  }

  /** An invocation's completion, with its last effects and its result for every handler waiting for it. */
  private completionRecord(envelope: Envelope, result: InvocationResult, endsRow: boolean, waitingCallers: readonly Caller[]): InvocationRecord {
    const { deps } = this;
    const { target, invocationId } = envelope;
    // The held keys are only needed by calls, which are never among a completion's effects.
    const effects = this.effectRecords(envelope, result.effects, []);
    effects.outbox.push(...waitingCallers.map((caller) => completionMessage(caller, invocationId, result.outcome)));
    const record: InvocationRecord = {
      kind: "invocation",
      partition: deps.partition,
      invocationId,
      completion: { outcome: result.outcome, target: targetLabel(target), expiresAtMs: deps.clock.now() + deps.config.idempotencyRetentionMs },
      ...effects,
      position: deps.inbox.checkpoint(),
    };
    if (endsRow) record.endsRow = true;
    return record;
  }

  private readonly answers: Answers = {
    reply: (to, invocationId, outcome) => this.reply(to, invocationId, outcome),
    late: (delivery, envelope, outcome) => this.conclude(delivery, envelope, outcome),
  };

  private reply(to: ReplyAddress, invocationId: string, outcome: Outcome): void {
    this.deps.replier.reply(to, { callId: to.callId, invocationId, ...outcome });
  }
}

/** The complete-entry command that hands `outcome` of invocation `from` to the handler waiting for it. */
function completionMessage(caller: Caller, from: string, outcome: Outcome): OutboxEntry {
  return { partition: caller.partition, envelope: { invocationId: caller.invocationId, target: caller.target, completes: { index: caller.index, from } }, data: encode(outcome) };
}

/**
 * How a parked wait answers an operator's command (`undefined`: asked as the wait starts): ends with
 * a value, fails with an error, or goes on waiting (`undefined`).
 */
interface Interrupt<T> {
  invocation: LiveInvocation;
  answer(command: ControlCommand | undefined): { value: T } | Error | undefined;
}

function killedError(invocation: LiveInvocation): InvocationKilledError {
  return new InvocationKilledError(`invocation ${invocation.invocationId} was killed`);
}

/** A handler's wait: an operator's cancel, until the handler saw it, ends it with a `CancelledError`. */
function cancellable<T>(invocation: LiveInvocation): Interrupt<T> {
  return {
    invocation,
    answer: (command) => {
      if (command === "resume" || command === "kill" || invocation.stop !== "cancel") return undefined;
      return new CancelledError(`${invocation.label}: invocation ${invocation.invocationId} was cancelled`);
    },
  };
}

/** The one line an operator's command logs, for the invocation it acts on. */
const CONTROL_LOG: Record<ControlCommand, string> = {
  cancel: "invocation cancelled by an operator: its pending or next await throws a CancelledError, and its compensation runs",
  kill: "invocation killed by an operator: it ends now without compensation, its callers get a CancelledError and its key is released",
  resume: "invocation resumed by an operator: it runs again with a fresh retry budget",
};

function assertNever(value: never): never {
  throw new Error(`unexpected ${String(value)}`);
}

/** Adds `delta` to a count per key, forgetting keys that reach 0. */
function count(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}

function promiseKey(target: Target, name: string): string {
  return `${target.name}\u0000${target.type === "object" ? target.key : ""}\u0000${name}`;
}

/** The outcome a call or awakeable entry holds, if it has one. */
function outcomeOf(entry: JournalEntry | undefined): Outcome | undefined {
  return entry?.type === "call" || entry?.type === "awakeable" ? entry.outcome : undefined;
}

/** A complete-entry command's body as an outcome, or `undefined` when it is not one. */
function decodeOutcome(data: Uint8Array): Outcome | undefined {
  let value: unknown;
  try {
    value = decode(data);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const o = value as Record<string, unknown>;
  if (o.ok === true && o.value instanceof Uint8Array) return { ok: true, value: o.value };
  const error = o.error as Record<string, unknown> | undefined;
  if (o.ok === false && typeof error === "object" && error !== null && typeof error.name === "string" && typeof error.message === "string" && typeof error.code === "number") {
    return { ok: false, error: { name: error.name, message: error.message, code: error.code } };
  }
  return undefined;
}

