import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { TerminalError } from "../../sdk/index.js";
import { type Envelope, type InvocationScope, type ReplyAddress, childInvocationId, partitionOfTarget, targetLabel } from "../../sdk/internal.js";
import type { Clock } from "../clock.js";
import type { HostConfig } from "../config.js";
import { CommitTooLargeError, HostClosedError } from "../errors.js";
import { CrashPoint, crashPoint, isArmed } from "../faults.js";
import { type InvocationResult, type Registry, type ResolvedHandler, type ResolvedRetryPolicy, invoke, terminalOutcome } from "../invoke/index.js";
import type { InvocationRecord, OutboxEntry, Outcome, StateWrite, Store, TimerEntry, TimersRecord } from "../store/index.js";
import { retryUntilAborted } from "../timing.js";
import { KeyQueue } from "./key-queue.js";
import type { Checkpoint, CommitLog, Committed, Delivery, Replier, Router } from "./ports.js";
import { PartitionTimers } from "./timers.js";

export interface ProcessorDeps {
  partition: number;
  registry: Registry;
  config: Pick<HostConfig, "partitions" | "maxPayloadBytes" | "idempotencyRetentionMs">;
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
}

/** What a transport makes a partition's processor from: the transport-free part, given its ports. */
export type ProcessorFactory = (ports: { partition: number; commitLog: CommitLog; inbox: Checkpoint; signal: AbortSignal; log: Logger }) => PartitionProcessor;

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
  /** Invocations waiting out a retry's backoff on the clock. */
  private parked = 0;
  private changeWaiters: Array<() => void> = [];

  constructor(private readonly deps: ProcessorDeps) {
    this.log = deps.log;
    this.timers = new PartitionTimers(deps);
  }

  /** Starts the partition's timers: call once its tables are caught up (after a take-over). */
  start(): void {
    this.timers.start();
  }

  stop(): void {
    this.timers.stop();
  }

  /**
   * Resolves when nothing runs but invocations waiting on the clock (a retry's backoff): what a
   * test clock must move for, and what a stop's grace period waits for (one waiting to retry is
   * abandoned and runs again at the next start or on the next owner).
   */
  async settled(): Promise<void> {
    for (;;) {
      await this.timers.idle();
      if (!this.busy) return;
      await new Promise<void>((resolve) => this.changeWaiters.push(resolve));
    }
  }

  /** Whether messages are queued or running (other than waiting on the clock), or timers being fired. */
  get busy(): boolean {
    return this.queue.size > this.parked || this.timers.firing;
  }

  private changed(): void {
    for (const resolve of this.changeWaiters.splice(0)) resolve();
  }

  /** A retry's backoff, on the partition's clock: a test clock moves it, and it counts as settled meanwhile. */
  private readonly sleepOnClock = async (ms: number, signal: AbortSignal): Promise<void> => {
    this.parked++;
    this.changed();
    try {
      await new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const onAbort = () => {
          cancel();
          reject(signal.reason);
        };
        const cancel = this.deps.clock.wakeAt(this.deps.clock.now() + ms, () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        });
        signal.addEventListener("abort", onAbort, { once: true });
      });
    } finally {
      this.parked--;
    }
  };

  deliver(delivery: Delivery): void {
    const { parsed } = delivery;
    try {
      if (!parsed.ok) {
        this.log.warn({ problem: parsed.problem }, "undecodable inbox message refused");
        delivery.settle();
        if (parsed.replyTo) this.reply(parsed.replyTo, "", terminalOutcome(new TerminalError(parsed.problem, { errorCode: 400 })));
        return;
      }
      const { envelope } = parsed;
      const { target, invocationId } = envelope;
      if (partitionOfTarget(target, invocationId, this.deps.config.partitions) !== this.deps.partition) {
        // A client that computes partitions differently would let one key run on two partitions.
        const problem = `${target.name}.${target.handler}: sent to partition ${this.deps.partition}, which does not hold this target; is the client configured with another partition count?`;
        return this.refuse(delivery, envelope, problem, 400, "misrouted inbox message refused");
      }
      if (envelope.delayMs !== undefined && envelope.replyTo) {
        return this.refuse(delivery, envelope, `${target.name}.${target.handler}: a call cannot be delayed; only a send can`, 400, "delayed call refused");
      }
      const handler = this.deps.registry.resolve(target);
      // Exclusive invocations of one key share a lane; everything else (a delayed send being
      // accepted included) gets a lane per invocation id, which also keeps a duplicate delivery
      // from running beside the original.
      const lane =
        envelope.delayMs === undefined && target.type === "object" && !(handler instanceof TerminalError) && handler.kind === "exclusive"
          ? `k:${target.name}\u0000${target.key}`
          : `i:${invocationId}`;
      this.queue.run(lane, () => this.processHoldingLane(delivery, envelope, handler));
    } catch (error) {
      // Never let one message end the inbox source's loop; left for the next owner (or a redelivery).
      this.log.error({ err: error }, "inbox message could not be scheduled");
      delivery.abandon();
    }
  }

  private refuse(delivery: Delivery, envelope: Envelope, problem: string, code: number, what: string): void {
    this.log.warn({ problem, invocationId: envelope.invocationId }, what);
    delivery.settle();
    if (envelope.replyTo) this.reply(envelope.replyTo, envelope.invocationId, terminalOutcome(new TerminalError(problem, { errorCode: code })));
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
   * would let later invocations of the key overtake this one.
   */
  private async processHoldingLane(delivery: Delivery, envelope: Envelope, handler: ResolvedHandler | TerminalError): Promise<void> {
    const done = await retryUntilAborted(
      () => this.process(delivery, envelope, handler),
      this.deps.signal,
      (err, attempt, retryInMs) => this.log.error({ err, invocationId: envelope.invocationId, attempt, retryInMs }, "invocation failed unexpectedly; retrying"),
    );
    if (!done) delivery.abandon();
  }

  /**
   * Runs one invocation on its lane. Once the partition is stopping, the lane's remaining messages
   * are abandoned, in order, so that the partition's next owner runs them in arrival order.
   */
  private async process(delivery: Delivery, envelope: Envelope, handler: ResolvedHandler | TerminalError): Promise<void> {
    const { deps } = this;
    const { target, invocationId } = envelope;
    const log = this.invocationLog(envelope);
    if (deps.signal.aborted) return delivery.abandon();

    const done = deps.store.readCompletion(deps.partition, invocationId);
    if (done) {
      if (done.target !== undefined && done.target !== targetLabel(target)) {
        // An invocation id answers for one target only: anything else would hand one handler's
        // result to a caller of another (or let a stray message swallow a real call).
        const problem = `${target.name}.${target.handler}: invocation id ${invocationId} was already used for ${done.target}; an id (or idempotency key) belongs to one target`;
        log().warn({ usedFor: done.target }, "invocation id reused for another target; refused");
        delivery.settle();
        if (envelope.replyTo) this.reply(envelope.replyTo, invocationId, terminalOutcome(new TerminalError(problem, { errorCode: 409 })));
        return;
      }
      log().debug("duplicate delivery of a completed invocation; re-sending its result");
      delivery.settle();
      if (envelope.replyTo) this.reply(envelope.replyTo, invocationId, done.outcome);
      return;
    }
    if (envelope.delayMs !== undefined) return this.acceptDelayed(delivery, envelope);

    const startedAt = performance.now();
    let result: InvocationResult;
    if (handler instanceof TerminalError) {
      result = { outcome: terminalOutcome(handler), effects: undefined, attempts: 0 };
    } else {
      const scope: InvocationScope = {
        invocationId,
        kind: handler.kind,
        key: target.type === "object" ? target.key : undefined,
        get log() {
          return log();
        },
        readState: (name) => (target.type === "object" ? deps.store.readState(deps.partition, target.name, target.key, name) : undefined),
        readStateKeys: () => (target.type === "object" ? deps.store.readStateNames(deps.partition, target.name, target.key) : []),
      };
      try {
        result = await invoke(handler, delivery.data, scope, { maxPayloadBytes: deps.config.maxPayloadBytes, retryPolicy: deps.retryPolicy, signal: deps.signal, sleep: this.sleepOnClock });
      } catch (error) {
        if (error instanceof HostClosedError) return delivery.abandon();
        throw error;
      }
    }
    if (!result.outcome.ok) log().warn({ error: result.outcome.error.message, attempts: result.attempts }, "invocation failed terminally");

    if (!(await inboxWriteHeld(delivery))) return delivery.abandon();
    crashPoint(CrashPoint.BeforeCommit);
    const record = this.invocationRecord(envelope, result);
    const committed = await this.commit(record);
    if (!committed) return delivery.abandon();
    crashPoint(CrashPoint.AfterCommit);
    // Committed: from here on nothing may undo it, and nothing that fails may hold the others up.
    deps.router.release(deps.partition, committed);
    this.timers.added(record.timers);
    delivery.settle();
    if (isArmed(CrashPoint.AfterAck)) await delivery.flush(); // the settle must reach the transport first
    crashPoint(CrashPoint.AfterAck);
    const { outcome } = committed.record.kind === "timers" ? result : committed.record.completion;
    if (envelope.replyTo) this.reply(envelope.replyTo, invocationId, outcome);
    if (this.log.isLevelEnabled("debug")) {
      log().debug({ outcome: outcome.ok ? "ok" : outcome.error.name, attempts: result.attempts, tookMs: Math.round(performance.now() - startedAt) }, "invocation finished");
    }
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
    const committed = await this.commit(this.invocationRecord(envelope, { outcome: failure, effects: undefined, attempts: 0 }));
    if (!committed) return delivery.abandon();
    delivery.settle();
  }

  /**
   * Commits through the partition's commit log, which retries a failing write in place: the lane
   * waits, so no later invocation of the key can commit first. Undefined when the partition stopped
   * or was fenced before the commit: the message is left for the next owner.
   */
  private async commit(record: InvocationRecord | TimersRecord): Promise<Committed | undefined> {
    try {
      return await this.deps.commitLog.commit(record);
    } catch (error) {
      if (error instanceof HostClosedError || this.deps.signal.aborted) return undefined;
      throw error;
    }
  }

  private invocationRecord(envelope: Envelope, result: InvocationResult): InvocationRecord {
    const { deps } = this;
    const { target, invocationId } = envelope;
    const stateWrites: StateWrite[] = [];
    const outbox: OutboxEntry[] = [];
    const timers: TimerEntry[] = [];
    const { effects } = result;
    if (effects && target.type === "object") {
      const base = { object: target.name, key: target.key };
      if (effects.clearedAll) stateWrites.push({ type: "clearAll", ...base });
      for (const { name, value } of effects.writes) {
        stateWrites.push(value ? { type: "set", ...base, name, value } : { type: "delete", ...base, name });
      }
    }
    const now = deps.clock.now();
    effects?.sends.forEach((send, index) => {
      const childId = childInvocationId(invocationId, index);
      const entry: OutboxEntry = { partition: partitionOfTarget(send.target, childId, deps.config.partitions), envelope: { invocationId: childId, target: send.target }, data: send.data };
      if (send.delayMs) timers.push({ dueMs: now + send.delayMs, id: childId, send: entry });
      else outbox.push(entry);
    });
    const record: InvocationRecord = {
      kind: "invocation",
      partition: deps.partition,
      invocationId,
      completion: { outcome: result.outcome, target: targetLabel(target), expiresAtMs: now + deps.config.idempotencyRetentionMs },
      stateWrites,
      outbox,
      position: deps.inbox.checkpoint(),
    };
    if (timers.length > 0) record.timers = timers;
    return record;
  }

  private reply(to: ReplyAddress, invocationId: string, outcome: Outcome): void {
    this.deps.replier.reply(to, { callId: to.callId, invocationId, ...outcome });
  }
}

/** Whether the delivery's inbox write is durable (it always is but in embedded mode's early hand-over): nothing commits before. */
async function inboxWriteHeld(delivery: Delivery): Promise<boolean> {
  if (!delivery.accepted) return true;
  return delivery.accepted.then(
    () => true,
    () => false,
  );
}
