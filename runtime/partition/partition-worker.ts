import { setTimeout as sleep } from "node:timers/promises";
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg, NatsConnection } from "nats";
import type { Logger } from "pino";
import { TerminalError } from "../../sdk/index.js";
import {
  type Envelope,
  type InvocationScope,
  type JetStreamPublisher,
  type ReplyAddress,
  childInvocationId,
  encode,
  inboxSubject,
  partitionOfTarget,
  targetLabel,
} from "../../sdk/internal.js";
import type { HostConfig } from "../config.js";
import { HostClosedError } from "../errors.js";
import { INTERNAL_RETRY, retryUntilAborted, withDeadline } from "../timing.js";
import { CrashPoint, crashPoint, isArmed } from "../faults.js";
import {
  type InvocationResult,
  type Registry,
  type ResolvedHandler,
  type ResolvedRetryPolicy,
  backoffMs,
  invoke,
  terminalOutcome,
} from "../invoke/index.js";
import type { OutboxRelay } from "../outbox/index.js";
import { FencedError, PartitionLog, type SnapshotStore, takeOver } from "../changelog/index.js";
import type { CommitRecord, Outcome, OutboxEntry, StateWrite, Store } from "../store/index.js";
import { PartitionConsumer, isConsumerInTheWay } from "../transport/index.js";
import { type Committed, PartitionCommitter } from "./committer.js";
import { parseEnvelope } from "./envelope.js";
import { KeyQueue } from "./key-queue.js";
import type { WorkerCensus } from "./worker-census.js";

export interface PartitionDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  store: Store;
  snapshots: SnapshotStore;
  /** Pipelined JetStream publishes, shared by the relay and the changelog appends. */
  publisher: JetStreamPublisher;
  relay: OutboxRelay;
  hostId: string;
  /** Largest changelog entry the server takes. */
  maxEntryBytes: number;
  /** This host's append to a partition's changelog was fenced: it must give up that epoch's lease. */
  onFenced: (partition: number, epoch: number) => void;
  registry: Registry;
  /** This host's live workers per partition. */
  census: WorkerCensus;
  config: HostConfig;
  retryPolicy: ResolvedRetryPolicy;
  signal: AbortSignal;
  log: Logger;
}


/**
 * Reopening a consumer is one cheap request, and every message of the partition waits on it: after
 * a NATS restart (during which each try fails at once) the next try must not be seconds away.
 */
const REOPEN_RETRY = { ...INTERNAL_RETRY, maxIntervalMs: 1000 };

/** How long a stop waits for the consume loop to end. */
const STOP_CONSUMING_MS = 5000;

/**
 * Serves one partition for one lease epoch. Takes the changelog over (LMDB caught up, epoch entry
 * appended), then consumes the partition's inbox in stream order and runs each invocation through
 * the per-key queue: check completion → invoke → commit (changelog, then LMDB) → relay sends →
 * ack → reply.
 */
export class PartitionWorker {
  private readonly queue = new KeyQueue();
  /** Unacked messages by stream sequence: touched so they are not redelivered while they run. */
  private readonly inFlight = new Map<number, JsMsg>();
  private highestSeen: number;
  private messages: ConsumerMessages | undefined;
  private stopping = false;
  /** `stop()` has completed (it may be called more than once). */
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private starting: Promise<void> | undefined;
  /** Aborted when the partition must stop at once: lost, or the grace period is over. */
  private readonly halt = new AbortController();
  private readonly signal: AbortSignal;
  private committer: PartitionCommitter | undefined;
  private readonly consumer: PartitionConsumer;
  private loop: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    readonly partition: number,
    readonly epoch: number,
    private readonly deps: PartitionDeps,
  ) {
    this.log = deps.log.child({ component: "partition", partition, epoch });
    this.highestSeen = deps.store.readPosition(partition);
    this.signal = AbortSignal.any([deps.signal, this.halt.signal]);
    // Halted (fenced, lost, or the host's grace is over): the inbox is no longer this worker's to
    // read. Its consume loop ends now and never recreates or resets a consumer again.
    this.signal.addEventListener("abort", () => this.stopConsuming(), { once: true });
    this.consumer = new PartitionConsumer(deps.jsm, deps.stream, deps.config.namespace, partition, epoch, {
      ackWaitMs: deps.config.ackWaitMs,
      maxAckPending: deps.config.maxInFlightPerPartition,
    });
    // Last: a constructor that throws before this never counts, so it never needs to leave.
    deps.census.enter(partition);
  }

  /** Takes the partition over and starts consuming. A `stop()` meanwhile makes it fail, leaving nothing running. */
  start(): Promise<void> {
    this.starting ??= this.takeOverAndConsume();
    return this.starting;
  }

  private stopConsuming(): void {
    this.stopping = true;
    this.stopSignal.abort();
    this.messages?.close().catch(() => undefined);
  }

  private checkNotStopped(): void {
    if (this.stopping) throw new HostClosedError(`partition ${this.partition} was stopped while it started`);
  }

  private async takeOverAndConsume(): Promise<void> {
    const { deps, partition, epoch } = this;
    const startedAt = Date.now();
    const log = await PartitionLog.open(deps.jsm, deps.js, deps.config.namespace, partition, { publisher: deps.publisher });
    this.checkNotStopped();
    const report = await takeOver({ partition, epoch, hostId: deps.hostId, store: deps.store, log, snapshots: deps.snapshots, logger: this.log, signal: this.signal });
    this.checkNotStopped();
    this.committer = new PartitionCommitter({
      partition,
      epoch,
      hostId: deps.hostId,
      log,
      store: deps.store,
      snapshots: deps.snapshots,
      snapshotEvery: deps.config.snapshotEvery,
      maxEntryBytes: deps.maxEntryBytes,
      signal: this.signal,
      logger: this.log,
      onFenced: (err) => {
        this.log.error({ err }, "changelog append fenced: another host owns this partition now; stopping it");
        this.halt.abort();
        deps.onFenced(partition, epoch);
      },
    });
    const recovered = deps.relay.recover(partition);
    await this.consumer.reset();
    if (this.stopping) {
      // Nobody will pull from it: a consumer left behind would block the next owner's on a work queue.
      await this.consumer.delete().catch(() => undefined);
      this.checkNotStopped();
    }
    this.loop = this.consumeLoop();
    this.heartbeat = setInterval(() => {
      try {
        for (const msg of this.inFlight.values()) msg.working();
      } catch (err) {
        this.log.warn({ err }, "could not extend the ack deadline of in-flight messages");
      }
    }, Math.floor(deps.config.ackWaitMs / 3));
    this.log.debug({ ...report, recoveredSends: recovered, tookMs: Date.now() - startedAt }, "partition started");
  }

  /**
   * Receives messages until stopped. Should the subscription end or fail on its own (a consumer
   * deleted by an operator, a permission change), it is opened again, not left silently idle.
   */
  private async consumeLoop(): Promise<void> {
    const { deps } = this;
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        const consumer = await deps.js.consumers.get(deps.stream, this.consumer.name);
        // Pull requests expire after 2 s, so a pull lost with a NATS node (its heartbeats stop) is
        // noticed and replaced within seconds, not after the default 30 s.
        // A consumer deleted under it (by a stale former owner's reset, or an operator) ends the iteration
        // instead of waiting forever for it to come back: the loop below makes sure it exists.
        this.messages = await consumer.consume({ max_messages: Math.min(256, deps.config.maxInFlightPerPartition), expires: 2000, abort_on_missing_resource: true });
        // Stopped while it was being opened: close it, and let the loop below drain it. Not awaited:
        // close() resolves once the iterator has been read to its end, which only that loop does.
        if (this.stopping) void this.messages.close().catch(() => undefined);
        for await (const msg of this.messages) {
          this.receive(msg);
          attempt = 0;
        }
      } catch (err) {
        if (this.stopping) return;
        this.log.error({ err }, "partition consumer failed; opening it again");
      }
      if (this.stopping) return;
      await sleep(backoffMs(REOPEN_RETRY, attempt + 1), undefined, { signal: this.stopSignal.signal }).catch(() => undefined);
      if (!this.stopping) {
        // The consumer may be gone: make sure it exists, keeping what it has not delivered. If another
        // consumer of the subject is in the way (left by a former owner), this owner replaces it,
        // unless it was stopped meanwhile: then the consumer in the way is its successor's.
        // Only a consumer in the way is replaced: a request that failed (NATS restarting, say) is
        // just tried again, since a reset redelivers every unacked message of the partition.
        await this.consumer
          .ensure()
          .catch((error: unknown) => {
            if (this.stopping || !isConsumerInTheWay(error)) throw error;
            this.log.warn({ err: error }, "another consumer is in the way of this partition's; replacing the partition's consumers");
            return this.consumer.reset();
          })
          .catch((err: unknown) => this.log.warn({ err }, "could not make sure the partition consumer exists; trying again"));
      }
    }
  }

  /**
   * Stops taking messages and lets running invocations finish within the grace period (none when
   * the partition was lost); what is still running then is abandoned unacked, for the next owner.
   * A start in progress is cancelled and waited for first.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    if (graceMs <= 0 || !this.loop) this.halt.abort();
    await this.starting?.catch(() => undefined);
    // Bounded: nothing of the NATS client may hold a stop (and so the partition's next worker) for
    // good. A consume loop still running past it takes nothing: it is halted and never resets.
    const consuming = (this.messages?.close() ?? Promise.resolve()).then(() => this.loop);
    if (!(await withDeadline(consuming, STOP_CONSUMING_MS))) this.log.warn({ waitedMs: STOP_CONSUMING_MS }, "consume loop did not end in time; stopping without it");
    await withDeadline(this.queue.idle(), graceMs);
    const graceful = !this.halt.signal.aborted;
    this.halt.abort();
    // A graceful stop leaves a fresh snapshot behind, so the next owner replays (and re-publishes) little.
    await withDeadline(this.committer?.close({ snapshot: graceful }) ?? Promise.resolve(), Math.max(graceMs, 1000));
    clearInterval(this.heartbeat);
    if (!this.stopped) this.deps.census.leave(this.partition);
    this.stopped = true;
  }

  private receive(msg: JsMsg): void {
    // Delivered after the stop began (a pull already on its way): left unacked for the next owner.
    if (this.stopping) return;
    try {
      this.inFlight.set(msg.seq, msg);
      if (msg.seq > this.highestSeen) this.highestSeen = msg.seq;
      const parsed = parseEnvelope(msg.headers, this.deps.config.clientInboxPrefixes);
      if (!parsed.ok) {
        this.log.warn({ seq: msg.seq, problem: parsed.problem }, "undecodable inbox message refused");
        if (parsed.replyTo) this.reply(parsed.replyTo, "", terminalOutcome(new TerminalError(parsed.problem, { errorCode: 400 })));
        this.ack(msg);
        return;
      }
      const { target, invocationId } = parsed.envelope;
      // Exclusive invocations of one key share a lane; everything else gets a lane per invocation id,
      // which also keeps a duplicate delivery from running beside the original.
      const handler = this.deps.registry.resolve(target);
      const lane =
        target.type === "object" && !(handler instanceof TerminalError) && handler.kind === "exclusive"
          ? `k:${target.name}\u0000${target.key}`
          : `i:${invocationId}`;
      if (partitionOfTarget(target, invocationId, this.deps.config.partitions) !== this.partition) {
        // A client that computes partitions differently would let one key run on two partitions.
        const problem = `${target.name}.${target.handler}: sent to partition ${this.partition}, which does not hold this target; is the client configured with another partition count?`;
        this.log.warn({ seq: msg.seq, problem }, "misrouted inbox message refused");
        if (parsed.envelope.replyTo) this.reply(parsed.envelope.replyTo, invocationId, terminalOutcome(new TerminalError(problem, { errorCode: 400 })));
        this.ack(msg);
        return;
      }
      this.queue.run(lane, () => this.processHoldingLane(msg, parsed.envelope, handler));
    } catch (error) {
      // Never let one message end the consume loop; unacked, it is delivered again after ackWaitMs.
      this.inFlight.delete(msg.seq);
      this.log.error({ err: error, seq: msg.seq }, "inbox message could not be scheduled");
    }
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
  private async processHoldingLane(msg: JsMsg, envelope: Envelope, handler: ResolvedHandler | TerminalError): Promise<void> {
    const done = await retryUntilAborted(
      () => this.process(msg, envelope, handler),
      this.signal,
      (err, attempt, retryInMs) =>
        this.log.error({ err, seq: msg.seq, invocationId: envelope.invocationId, attempt, retryInMs }, "invocation failed unexpectedly; retrying"),
    );
    if (!done) this.abandon(msg);
  }

  /**
   * Runs one invocation on its lane. Once the host is closing, the lane's remaining messages are
   * abandoned unacked, in order, so that the partition's next owner runs them in arrival order.
   */
  private async process(msg: JsMsg, envelope: Envelope, handler: ResolvedHandler | TerminalError): Promise<void> {
    const { deps, partition } = this;
    const { target, invocationId } = envelope;
    const log = this.invocationLog(envelope);
    if (this.signal.aborted) return this.abandon(msg);

    const done = deps.store.readCompletion(partition, invocationId);
    if (done) {
      const label = targetLabel(target);
      if (done.target !== undefined && done.target !== label) {
        // An invocation id answers for one target only: anything else would hand one handler's
        // result to a caller of another (or let a stray message swallow a real call).
        const problem = `${target.name}.${target.handler}: invocation id ${invocationId} was already used for ${done.target}; an id (or idempotency key) belongs to one target`;
        log().warn({ usedFor: done.target }, "invocation id reused for another target; refused");
        this.ack(msg);
        if (envelope.replyTo) this.reply(envelope.replyTo, invocationId, terminalOutcome(new TerminalError(problem, { errorCode: 409 })));
        return;
      }
      log().debug("duplicate delivery of a completed invocation; re-sending its result");
      this.ack(msg);
      if (envelope.replyTo) this.reply(envelope.replyTo, invocationId, done.outcome);
      return;
    }
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
        readState: (name) => (target.type === "object" ? deps.store.readState(partition, target.name, target.key, name) : undefined),
        readStateKeys: () => (target.type === "object" ? deps.store.readStateNames(partition, target.name, target.key) : []),
      };
      try {
        result = await invoke(handler, msg.data, scope, {
          maxPayloadBytes: deps.config.maxPayloadBytes,
          retryPolicy: deps.retryPolicy,
          signal: this.signal,
        });
      } catch (error) {
        if (error instanceof HostClosedError) return this.abandon(msg);
        throw error;
      }
    }
    if (!result.outcome.ok) log().warn({ error: result.outcome.error.message, attempts: result.attempts }, "invocation failed terminally");

    crashPoint(CrashPoint.BeforeCommit);
    const committed = await this.commit(this.commitRecord(envelope, result));
    if (!committed) return this.abandon(msg);
    crashPoint(CrashPoint.AfterCommit);
    // Committed: from here on nothing may undo it, and nothing that fails may hold the others up.
    const { record, outboxKeys } = committed;
    deps.relay.add(outboxKeys.map((key, i) => ({ key, entry: record.outbox[i] as OutboxEntry })));
    this.ack(msg);
    if (isArmed(CrashPoint.AfterAck)) await this.deps.nc.flush(); // the ack must reach the server first
    crashPoint(CrashPoint.AfterAck);
    if (envelope.replyTo) this.reply(envelope.replyTo, invocationId, record.completion.outcome);
  }

  /**
   * Commits through the partition's committer, which retries a failing append or LMDB write in
   * place: the lane waits, so no later invocation of the key can commit first. Undefined when the
   * partition stopped or was fenced before the commit: the message is left for the next owner.
   */
  private async commit(record: CommitRecord): Promise<Committed | undefined> {
    if (!this.committer) throw new Error(`partition ${this.partition} is not started`);
    try {
      return await this.committer.commit(record);
    } catch (error) {
      if (error instanceof FencedError || error instanceof HostClosedError) return undefined;
      throw error;
    }
  }

  /** Left unacked: the partition's next owner receives it again. */
  private abandon(msg: JsMsg): void {
    this.inFlight.delete(msg.seq);
  }

  private commitRecord(envelope: Envelope, result: InvocationResult): CommitRecord {
    const { target, invocationId } = envelope;
    const stateWrites: StateWrite[] = [];
    const outbox: OutboxEntry[] = [];
    const { effects } = result;
    if (effects && target.type === "object") {
      const base = { object: target.name, key: target.key };
      if (effects.clearedAll) stateWrites.push({ type: "clearAll", ...base });
      for (const { name, value } of effects.writes) {
        stateWrites.push(value ? { type: "set", ...base, name, value } : { type: "delete", ...base, name });
      }
    }
    effects?.sends.forEach((send, index) => {
      const childId = childInvocationId(invocationId, index);
      const partition = partitionOfTarget(send.target, childId, this.deps.config.partitions);
      outbox.push({
        subject: inboxSubject(this.deps.config.namespace, partition),
        envelope: { invocationId: childId, target: send.target },
        data: send.data,
      });
    });
    return {
      partition: this.partition,
      invocationId,
      completion: { outcome: result.outcome, target: targetLabel(target), expiresAtMs: Date.now() + this.deps.config.idempotencyRetentionMs },
      stateWrites,
      outbox,
      position: this.position(),
    };
  }

  /** The highest stream sequence below which every message has been settled. */
  private position(): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const seq of this.inFlight.keys()) if (seq < lowest) lowest = seq;
    return Number.isFinite(lowest) ? lowest - 1 : this.highestSeen;
  }

  /**
   * Answers a caller. Best effort by design: a reply lost here is re-sent when the caller retries
   * with its idempotency key. A result too large for NATS becomes an error the caller can see.
   */
  private reply(to: ReplyAddress, invocationId: string, outcome: Outcome): void {
    try {
      this.deps.nc.publish(to.subject, encode({ callId: to.callId, invocationId, ...outcome }));
    } catch (error) {
      this.log.warn({ err: error, invocationId }, "reply could not be sent");
      if (!outcome.ok) return;
      const tooLarge = terminalOutcome(
        new TerminalError(`the result of ${invocationId} (${outcome.value.byteLength} bytes) could not be sent: ${error instanceof Error ? error.message : String(error)}`),
      );
      try {
        this.deps.nc.publish(to.subject, encode({ callId: to.callId, invocationId, ...tooLarge }));
      } catch {
        // The connection itself is gone; the caller's timeout covers it.
      }
    }
  }

  private ack(msg: JsMsg): void {
    this.inFlight.delete(msg.seq);
    try {
      msg.ack();
    } catch (error) {
      // A lost ack means a redelivery, which the completion record answers.
      this.log.warn({ err: error, seq: msg.seq }, "ack could not be sent");
    }
  }
}
