import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg, NatsConnection } from "nats";
import type { Logger } from "pino";
import type { ControlCommand, JetStreamPublisher } from "../../../sdk/internal.js";
import type { HostConfig } from "../../config.js";
import { HostClosedError } from "../../errors.js";
import { backoffMs } from "../../invoke/index.js";
import type { Checkpoint, PartitionProcessor, PartitionWorker, ProcessorFactory, WorkerCensus } from "../../partition/index.js";
import type { Store } from "../../store/index.js";
import { INTERNAL_RETRY, withDeadline } from "../../timing.js";
import { PartitionCommitter } from "./changelog-committer.js";
import { PartitionLog, type SnapshotStore, takeOver } from "./changelog/index.js";
import { parseEnvelope } from "./envelope.js";
import { isConsumerInTheWay } from "./jetstream-errors.js";
import type { OutboxRelay } from "./outbox-relay.js";
import { type InFlightBefore, PartitionConsumer } from "./streams.js";

export interface NatsPartitionDeps {
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
  /** This host's live workers per partition. */
  census: WorkerCensus;
  /**
   * Whether this host's connection to NATS had trouble lately (a disconnect, a reconnect): a
   * partition taken over then most likely moved because of the outage, not because a handler took
   * its host down, and what was in flight is not counted as lost attempts.
   */
  connectionTroubled: () => boolean;
  config: HostConfig;
  processor: ProcessorFactory;
  /** Hears how long each changelog append took (ms): the changelog-append metric. */
  onAppend?: (ms: number) => void;
  signal: AbortSignal;
  log: Logger;
}

/**
 * Reopening a consumer is one cheap request, and every message of the partition waits on it: after
 * a NATS restart (during which each try fails at once) the next try must not be seconds away.
 */
const REOPEN_RETRY = { ...INTERNAL_RETRY, maxIntervalMs: 1000 };

/** Missed heartbeats in a row (about one a second) after which a consume iterator is opened anew. */
const DEAF_AFTER_MISSED = 6;

/** How long a consume iterator may go without pulling or receiving before it is opened anew (pulls expire every 2 s). */
const SILENT_REOPEN_MS = 10_000;

/** How long a stop waits for the consume loop to end. */
const STOP_CONSUMING_MS = 5000;

/**
 * Serves one partition for one lease epoch over NATS: takes the changelog over (LMDB caught up,
 * epoch entry appended), then consumes the partition's inbox stream in order and hands each message
 * to the partition's processor, with the changelog committer as its commit log. A settle is an ack.
 */
export class NatsPartition implements PartitionWorker, Checkpoint {
  private processor: PartitionProcessor | undefined;
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
  private inFlightBefore: InFlightBefore = { ackFloor: 0, delivered: 0 };
  /** Tells the deafness watch of the current consume iterator that a message came. */
  private heard: () => void = () => undefined;
  private loop: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    readonly partition: number,
    readonly epoch: number,
    private readonly deps: NatsPartitionDeps,
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
    const startedAt = performance.now();
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
      onAppend: deps.onAppend,
      onFenced: (err) => {
        this.log.error({ err }, "changelog append fenced: another host owns this partition now; stopping it");
        this.halt.abort();
        deps.onFenced(partition, epoch);
      },
    });
    const countLosses = !deps.connectionTroubled();
    this.processor = deps.processor({ partition, commitLog: this.committer, inbox: this, signal: this.signal, log: this.log, countLosses });
    this.processor.start();
    const recovered = deps.relay.recover(partition);
    const inFlight = await this.consumer.reset();
    if (countLosses) this.inFlightBefore = inFlight;
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
    this.log.debug({ ...report, recoveredSends: recovered, tookMs: Math.round(performance.now() - startedAt) }, "partition started");
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
        this.closeWhenDeaf(this.messages);
        for await (const msg of this.messages) {
          this.heard();
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
   * Closes a consume iterator that went deaf, and the loop opens it anew: one whose heartbeats were
   * missed again and again, or one that neither pulled nor received anything for long. A healthy
   * iterator pulls again at least every time a pull expires (2 s); after NATS was paused, the client
   * was seen never pulling again (its pending count not reset after a failed request) while the
   * partition's inbox filled.
   */
  private closeWhenDeaf(messages: ConsumerMessages): void {
    let heardAt = performance.now();
    this.heard = () => {
      heardAt = performance.now();
    };
    const close = (why: Record<string, unknown>) => {
      clearInterval(silence);
      this.log.warn(why, "partition consumer hears nothing; opening it again");
      void messages.close().catch(() => undefined);
    };
    const silence = setInterval(() => {
      const silentMs = Math.round(performance.now() - heardAt);
      if (silentMs >= SILENT_REOPEN_MS) close({ silentMs });
    }, 1000);
    silence.unref();
    void (async () => {
      try {
        for await (const status of await messages.status()) {
          // A pull sent is a sign of life; missed heartbeats are not.
          if (status.type === "next") heardAt = performance.now();
          if (status.type === "heartbeats_missed" && Number(status.data) >= DEAF_AFTER_MISSED) return close({ missed: status.data });
        }
      } catch {
        // The iterator ended: so does the watch.
      } finally {
        clearInterval(silence);
      }
    })();
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
    // Invocations waiting out a retry's backoff are not waited for: the next owner runs them again.
    await withDeadline(this.processor?.settled() ?? Promise.resolve(), graceMs);
    const graceful = !this.halt.signal.aborted;
    this.halt.abort();
    this.processor?.stop();
    // A graceful stop leaves a fresh snapshot behind, so the next owner replays (and re-publishes) little.
    await withDeadline(this.committer?.close({ snapshot: graceful }) ?? Promise.resolve(), Math.max(graceMs, 1000));
    clearInterval(this.heartbeat);
    if (!this.stopped) this.deps.census.leave(this.partition);
    this.stopped = true;
  }

  /** Resolves when nothing of the partition is being processed. */
  async idle(): Promise<void> {
    await this.processor?.settled();
  }

  busy(): boolean {
    return this.processor?.busy ?? false;
  }

  async control(command: ControlCommand, invocationId: string): Promise<boolean> {
    if (this.stopping || !this.processor) return false;
    return this.processor.control(command, invocationId);
  }

  private receive(msg: JsMsg): void {
    // Delivered after the stop began (a pull already on its way): left unacked for the next owner.
    if (this.stopping || !this.processor) return;
    this.inFlight.set(msg.seq, msg);
    if (msg.seq > this.highestSeen) this.highestSeen = msg.seq;
    let parsed: ReturnType<typeof parseEnvelope>;
    try {
      parsed = parseEnvelope(msg.headers, this.deps.config.clientInboxPrefixes);
    } catch (error) {
      // Never let one message end the consume loop; unacked, it is delivered again after ackWaitMs.
      this.inFlight.delete(msg.seq);
      this.log.error({ err: error, seq: msg.seq }, "inbox message could not be read");
      return;
    }
    this.processor.deliver({
      parsed,
      data: msg.data,
      seq: msg.seq,
      deliveries: this.deliveriesOf(msg),
      // The stream's own time of the message: when the inbox accepted it.
      receivedAtMs: msg.info.timestampNanos / 1e6,
      settle: () => this.ack(msg),
      // Left unacked: the partition's next owner receives it again.
      abandon: () => this.inFlight.delete(msg.seq),
      retryLater: (delayMs) => this.retryLater(msg, delayMs),
      flush: () => this.deps.nc.flush(),
    });
  }

  /**
   * How many times a message was delivered: this consumer's count, and one more when an earlier
   * owner's consumer had it in flight (a consumer's own count starts again with each owner).
   */
  private deliveriesOf(msg: JsMsg): number {
    const { ackFloor, delivered } = this.inFlightBefore;
    return msg.info.redeliveryCount + (msg.seq > ackFloor && msg.seq <= delivered ? 1 : 0);
  }

  /** The highest stream sequence below which every message has been settled. */
  checkpoint(): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const seq of this.inFlight.keys()) if (seq < lowest) lowest = seq;
    return Number.isFinite(lowest) ? lowest - 1 : this.highestSeen;
  }

  /** Out of the in-flight set first: the heartbeat's `working()` would otherwise cancel the delay. */
  private retryLater(msg: JsMsg, delayMs: number): void {
    this.inFlight.delete(msg.seq);
    try {
      msg.nak(delayMs);
    } catch (error) {
      // Unacked, it is delivered again after ackWaitMs anyway.
      this.log.warn({ err: error, seq: msg.seq }, "nak could not be sent");
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
