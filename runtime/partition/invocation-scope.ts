import type { Logger } from "pino";
import type { HandlerKind } from "../../sdk/index.js";
import type { Target } from "../../sdk/internal.js";
import type { Clock } from "../clock.js";
import type { InvocationScope, Progress, ResolvedHandler } from "../invoke/index.js";
import type { JournalEntry, Outcome, Store } from "../store/index.js";
import type { LiveInvocation } from "./live-invocation.js";

/** What a partition's processor lends the scopes of its invocations: made once per partition. */
export interface ScopeServices {
  readonly partition: number;
  readonly store: Store;
  readonly clock: Clock;
  readonly alwaysReplay: boolean;
  /** A handler's wait on the clock (a sleep, a step's retry): an operator's cancel ends it with a `CancelledError`. */
  waitOnClock(invocation: LiveInvocation, lane: string, atMs: number, attempt: AbortSignal | undefined, cancellable: boolean): Promise<void>;
  awaitEntry(invocation: LiveInvocation, lane: string, index: number, attempt: AbortSignal, cancellable: boolean): Promise<Outcome>;
  commitProgress(invocation: LiveInvocation, lane: string, label: string, progress: Progress, heldKeys: readonly string[]): Promise<void>;
  promiseChanged(invocation: LiveInvocation, lane: string, target: Target, name: string, attempt: AbortSignal, cancellable: boolean): Promise<void>;
  /** A paused invocation's wait for an operator (`resume` or `cancel`). */
  waitForControl(invocation: LiveInvocation, lane: string, afterCancel: boolean): Promise<"resume" | "cancel">;
  /** A retry's backoff, ended early by an operator's `resume` or `cancel`. */
  backoff(invocation: LiveInvocation, lane: string, atMs: number, afterCancel: boolean): Promise<void>;
  stepRunning(lane: string, delta: 1 | -1): void;
}

/**
 * One invocation's scope: its partition's committed state, clock, journal and commit path, as the
 * invoker sees them. One object per invocation, its methods on the prototype: an invocation is the
 * hot path, and what it allocates lives across its synced commit.
 */
export class PartitionInvocationScope implements InvocationScope {
  private held: string[] | undefined;

  constructor(
    private readonly services: ScopeServices,
    private readonly invocation: LiveInvocation,
    private readonly handler: ResolvedHandler,
    private readonly lane: string,
    private readonly logger: () => Logger,
  ) {}

  get partition(): number {
    return this.services.partition;
  }

  get target(): Target {
    return this.invocation.envelope.target;
  }

  get invocationId(): string {
    return this.invocation.invocationId;
  }

  get kind(): HandlerKind {
    return this.handler.kind;
  }

  get key(): string | undefined {
    const { target } = this;
    return target.type === "object" ? target.key : undefined;
  }

  get log(): Logger {
    return this.logger();
  }

  get workflow(): boolean {
    return this.handler.workflow !== undefined;
  }

  get alwaysReplay(): boolean {
    return this.services.alwaysReplay;
  }

  get journal(): ReadonlyMap<number, JournalEntry> {
    return this.invocation.journal;
  }

  get failedAttempts(): number {
    return this.invocation.failedAttempts;
  }

  get durable(): boolean {
    return this.invocation.hasRow;
  }

  /** The exclusive keys held up the call chain, this invocation's own included. */
  get heldKeys(): readonly string[] {
    if (!this.held) {
      const { target, chain = [] } = this.invocation.envelope;
      this.held = target.type === "object" && this.handler.kind === "exclusive" ? [...chain, `${target.name}/${target.key}`] : chain;
    }
    return this.held;
  }

  readStateBytes(name: string): Uint8Array | undefined {
    const { target } = this;
    return target.type === "object" ? this.services.store.readStateBytes(this.services.partition, target.name, target.key, name) : undefined;
  }

  readStateKeys(): string[] {
    const { target } = this;
    return target.type === "object" ? this.services.store.readStateNames(this.services.partition, target.name, target.key) : [];
  }

  readPromise(name: string): Outcome | undefined {
    const { target } = this;
    return target.type === "object" ? this.services.store.readPromise(this.services.partition, target.name, target.key, name) : undefined;
  }

  now(): number {
    return this.services.clock.now();
  }

  waitUntil(atMs: number, attempt?: AbortSignal, cancellable = true): Promise<void> {
    return this.services.waitOnClock(this.invocation, this.lane, atMs, attempt, cancellable);
  }

  get cancelPending(): boolean {
    return this.invocation.stop === "cancel";
  }

  get paused(): boolean {
    return this.invocation.status === "paused";
  }

  get nextAttemptAtMs(): number | undefined {
    return this.invocation.nextAttemptAtMs;
  }

  waitForControl(afterCancel = false): Promise<"resume" | "cancel"> {
    return this.services.waitForControl(this.invocation, this.lane, afterCancel);
  }

  backoff(atMs: number, afterCancel = false): Promise<void> {
    return this.services.backoff(this.invocation, this.lane, atMs, afterCancel);
  }

  whenKilled(): Promise<never> {
    return this.invocation.whenKilled();
  }

  get killed(): boolean {
    return this.invocation.stop === "kill";
  }

  commit(progress: Progress): Promise<void> {
    return this.services.commitProgress(this.invocation, this.lane, this.handler.label, progress, this.heldKeys);
  }

  awaitEntry(index: number, attempt: AbortSignal, cancellable = true): Promise<Outcome> {
    return this.services.awaitEntry(this.invocation, this.lane, index, attempt, cancellable);
  }

  promiseChanged(name: string, attempt: AbortSignal, cancellable = true): Promise<void> {
    return this.services.promiseChanged(this.invocation, this.lane, this.target, name, attempt, cancellable);
  }

  stepRunning(delta: 1 | -1): void {
    this.services.stepRunning(this.lane, delta);
  }
}
