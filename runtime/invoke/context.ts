import { createHash } from "node:crypto";
import { pino, type Logger } from "pino";
import {
  type AnyDefinition,
  type ContextCallClient,
  type ContextCallOptions,
  type ContextDate,
  type ContextRandom,
  type ContextSendClient,
  type DurablePromise,
  type HandlerKind,
  type ObjectDefinition,
  type RunOptions,
  type SendClientOptions,
  type ServiceDefinition,
  CancelledError,
  TerminalError,
  type WorkflowContext,
  type WorkflowDefinition,
} from "../../sdk/index.js";
import {
  type AwakeableAddress,
  type Target,
  awakeableId,
  awakeableNonce,
  decode,
  encode,
  encodeData,
  idempotentInvocationId,
  isHandlerDefinition,
  newInvocationId,
  describeThrown,
  objectKeyProblem,
  outcomeError,
  workflowRunInvocationId,
  parseAwakeableId,
  stateNameProblem,
  targetLabel,
} from "../../sdk/internal.js";
import { HostClosedError, JournalMismatchError, StepRetriesExhaustedError } from "../errors.js";
import type { InvocationStatus, JournalEntry, Outcome, PromiseWrite } from "../store/index.js";
import { classifyFailure, isInstance } from "./classify.js";
import type { AttemptJournal } from "./journal.js";
import { type ResolvedRetryPolicy, resolveRetryPolicy } from "./retry.js";
import { withTimeout } from "./timeout.js";

/**
 * A message an attempt sent, encoded; `index` is its journal entry. A one-way send starts the
 * invocation its index names; a call starts `call.callee` and waits for its result at `index`; a
 * completion (`completes`) is a complete-entry command for an awakeable of another invocation.
 */
export interface EncodedSend {
  target: Target;
  data: Uint8Array;
  delayMs?: number;
  index: number;
  call?: { callee: string };
  completes?: AwakeableAddress;
  /** A cancellation passed on to the callee of the call at `index` (the caller was cancelled while waiting for it). */
  cancels?: { callee: string };
}

/** What an attempt changed since its last suspension point, encoded: committing it cannot fail on a value. */
export interface EncodedEffects {
  clearedAll: boolean;
  /** `value: undefined` deletes the entry. */
  writes: Array<{ name: string; value: Uint8Array | undefined }>;
  sends: EncodedSend[];
  /** Workflow promises resolved or rejected. */
  promises: Array<Pick<PromiseWrite, "name" | "outcome">>;
}

/** A suspension point (or a durable backoff) to commit: the invocation's new status, its new journal entries and its effects. */
export interface Progress {
  status: Exclude<InvocationStatus, "queued">;
  journal: Array<[index: number, entry: JournalEntry]>;
  effects: EncodedEffects | undefined;
  failedAttempts: number;
  wakeAtMs?: number;
  nextAttemptAtMs?: number;
  lastError?: string;
  /** Its journal records where the handler saw the operator's cancel: the cancel is no longer pending. */
  cancelSeen?: true;
}

/** What the partition lends an invocation: its committed state, its clock, its journal and its commit path. */
export interface InvocationScope {
  readonly partition: number;
  readonly target: Target;
  /** The exclusive keys held up this invocation's call chain, its own included (`Name/key`). */
  readonly heldKeys: readonly string[];
  readonly invocationId: string;
  readonly kind: HandlerKind;
  readonly key: string | undefined;
  readonly log: Logger;
  /** The committed value of one state entry (msgpack), or `undefined`. */
  readStateBytes(name: string): Uint8Array | undefined;
  /** The names of the committed state entries. */
  readStateKeys(): string[];
  /** The partition's clock. */
  now(): number;
  /**
   * Resolves once the clock reaches `atMs`; rejects with `HostClosedError` when the partition stops.
   * Waiting here is not being busy. The waits of this and the two below take the attempt's signal: once
   * it aborts (the attempt ended), a wait still pending (the loser of a race) is dropped and never settles.
   */
  waitUntil(atMs: number, attempt?: AbortSignal, cancellable?: boolean): Promise<void>;
  /** Commits a suspension point; rejects with `HostClosedError` when the partition stopped first. */
  commit(progress: Progress): Promise<void>;
  /** Resolves with the outcome of a call or awakeable entry once its complete-entry command committed. Waiting here is not being busy. */
  awaitEntry(index: number, attempt: AbortSignal, cancellable?: boolean): Promise<Outcome>;
  /** A workflow promise of this key, once resolved or rejected. */
  readPromise(name: string): Outcome | undefined;
  /** Resolves once a commit resolved or rejected that promise (read it again then). Waiting here is not being busy. */
  promiseChanged(name: string, attempt: AbortSignal, cancellable?: boolean): Promise<void>;
  /** A step's function starts (+1) or ends (-1) running: the invocation is busy meanwhile, whatever else it waits on. */
  stepRunning(delta: 1 | -1): void;
  /** Whether the handler is a workflow's (its context has promises). */
  readonly workflow: boolean;
  /** Ends the attempt after each suspension point, so that the next one replays it (a test mode). */
  readonly alwaysReplay: boolean;
  /** The journal as committed so far, by index: what the next attempt replays. */
  readonly journal: ReadonlyMap<number, JournalEntry>;
  /** Attempts that failed before this run of the invocation. */
  readonly failedAttempts: number;
  /** Whether the invocation has a row in the partition's tables (anything of it committed). */
  readonly durable: boolean;
  /**
   * Whether an operator's cancel waits for the handler to see it (no commit has recorded where it
   * did): an attempt's pending waits reject with a `CancelledError` (those it passes `cancellable`),
   * and its next step, call, sleep, awakeable or promise throws one. A commit that carries the
   * cancelled entry (`Progress.cancelSeen`) ends it.
   */
  readonly cancelPending: boolean;
  /** It starts paused (its row says so): nothing runs before an operator's `resume` or `cancel`. */
  readonly paused: boolean;
  /** A resumed invocation that was backing off: when its next attempt runs. */
  readonly nextAttemptAtMs: number | undefined;
  /**
   * Waits, not busy, for an operator's `resume` or `cancel` (a `kill` ends it with `InvocationKilledError`).
   * `afterCancel`: the failed attempt threw the pending cancel already; it does not end the wait.
   */
  waitForControl(afterCancel?: boolean): Promise<"resume" | "cancel">;
  /** A retry's backoff: resolves at `atMs`, or at once when an operator resumes or cancels it (see `waitForControl`). */
  backoff(atMs: number, afterCancel?: boolean): Promise<void>;
  /** Rejects with `InvocationKilledError` once an operator's kill is durable (never resolves). */
  whenKilled(): Promise<never>;
  /** Whether an operator killed it. */
  readonly killed: boolean;
}

export interface AttemptOptions {
  label: string;
  maxPayloadBytes: number;
  /** The policy of a step without one of its own: the host's. */
  stepPolicy: ResolvedRetryPolicy;
}

const silent = pino({ level: "silent" });

/** The most keys a call chain carries (they travel in every call's headers). */
const MAX_CHAIN = 1000;

/**
 * The context of one attempt. Every action takes the next journal index: replayed from the journal
 * when it is recorded there, made (and recorded) otherwise. State writes and sends wait in the
 * attempt until the next suspension point (a step's result, a sleep) commits them with the journal
 * so far; what is left when the handler ends is committed with its result. Once the attempt ended
 * (timed out, failed, the partition stopped), every action throws: a late attempt changes nothing.
 */
export class DurableContext implements WorkflowContext {
  // Most attempts read and write a little state and end: what only some need is made on first use.
  /** This attempt's writes (for its reads), since it began. */
  private overlay: Map<string, Uint8Array | undefined> | undefined;
  private overlayCleared = false;
  /** Writes and sends not yet committed. */
  private dirty: EncodedEffects = emptyEffects();
  /** Why the attempt ended; the error a later action throws is made from it then. */
  private endedWhy: string | undefined;
  private ended: Error | undefined;
  /** What fails the attempt even if the handler catches it: a journal mismatch, a step whose retries ran out. */
  private mismatch: JournalMismatchError | StepRetriesExhaustedError | undefined;
  private replay = false;
  /** Steps whose function runs now: a forced replay waits until none does (a suspension of the whole handler). */
  private stepsRunning = 0;
  /** This attempt threw the operator's cancel; `cancelInBatch`: and its entry is not committed yet. */
  private cancelDelivered = false;
  private cancelInBatch = false;
  /** Steps counted as running for the lane (`scope.stepRunning`), until they end or the attempt does. */
  private stepsCounted = 0;
  /** Aborted when the attempt ends: its waits still pending are dropped. */
  private attemptController: AbortController | undefined;
  private random: ContextRandom | undefined;
  private dateView: ContextDate | undefined;
  private attemptLog: Logger | undefined;

  constructor(
    private readonly scope: InvocationScope,
    private readonly journal: AttemptJournal,
    private readonly options: AttemptOptions,
    private readonly attemptNumber = 1,
  ) {}

  get date(): ContextDate {
    return (this.dateView ??= { now: () => this.now() });
  }

  get rand(): ContextRandom {
    return (this.random ??= seededRandom(this.scope.invocationId));
  }

  /** The attempt's signal, for its waits. */
  private get attempt(): AbortSignal {
    if (!this.attemptController) {
      this.attemptController = new AbortController();
      if (this.endedWhy !== undefined) this.attemptController.abort();
    }
    return this.attemptController.signal;
  }

  get invocationId(): string {
    return this.scope.invocationId;
  }

  /** The invocation's logger (object, key, handler, invocation id) with this attempt's number; silent while replaying. */
  get log(): Logger {
    if (this.journal.replaying) return silent;
    return (this.attemptLog ??= this.scope.log.child({ attempt: this.attemptNumber }));
  }

  get key(): string {
    if (this.scope.key === undefined) throw new TerminalError("ctx.key is only available in object handlers");
    return this.scope.key;
  }

  /** The journal mismatch (or step out of retries) this attempt met, if any: it fails the attempt even if the handler caught it. */
  get diverged(): JournalMismatchError | StepRetriesExhaustedError | undefined {
    return this.mismatch;
  }

  /**
   * A handler that returned before making the actions its journal holds does not replay its first
   * run (its code changed): the mismatch, or undefined when it made them all.
   */
  unreplayed(): JournalMismatchError | undefined {
    const { made, end } = this.journal;
    if (made >= end) return undefined;
    return new JournalMismatchError(
      `${this.options.label}: the handler no longer matches the journal of ${this.scope.invocationId}: it ended after ${made} actions, and its journal holds ${end}. The code changed under a running invocation; it is retried with backoff, and resumes once the code it started with is deployed again`,
      { index: made, invocationId: this.scope.invocationId },
    );
  }

  /** Whether the attempt ended to be replayed (`alwaysReplay`): the next attempt runs at once and counts as none. */
  get replayRequested(): boolean {
    return this.replay;
  }

  /** Ends the attempt: later actions throw, saying `why`. Returns the effects not yet committed. */
  end(why: string): EncodedEffects {
    this.endedWhy ??= why;
    this.attemptController?.abort();
    // Steps still running (their functions cannot be stopped) no longer count for the lane: the
    // lane may already belong to the next invocation of the key when they settle.
    for (; this.stepsCounted > 0; this.stepsCounted--) this.scope.stepRunning(-1);
    return this.takeEffects();
  }

  async get<T>(name: string): Promise<T | null> {
    this.requireObject("get");
    checkStateName("get", name);
    const { index, recorded } = this.next("get", name);
    let bytes: Uint8Array | null;
    if (recorded) {
      bytes = recorded.value;
    } else {
      bytes = this.overlay?.has(name) ? (this.overlay.get(name) ?? null) : this.overlayCleared ? null : (this.scope.readStateBytes(name) ?? null);
      this.journal.record(index, { type: "get", name, value: bytes });
    }
    return bytes === null ? null : (decode(bytes) as T);
  }

  async stateKeys(): Promise<string[]> {
    this.requireObject("stateKeys");
    const { index, recorded } = this.next("state-keys");
    if (recorded) return [...recorded.names];
    const names = new Set(this.overlayCleared ? [] : this.scope.readStateKeys());
    for (const [name, value] of this.overlay ?? []) {
      if (value) names.add(name);
      else names.delete(name);
    }
    const sorted = [...names].sort();
    this.journal.record(index, { type: "state-keys", names: sorted });
    return [...sorted];
  }

  set<T>(name: string, value: T): void {
    this.requireExclusive("set");
    checkStateName("set", name);
    if (value === undefined) throw new TerminalError(`ctx.set("${name}", undefined): use ctx.clear("${name}") to remove an entry`);
    // Encoded now, where the stack points at the caller; a change to the value afterwards changes nothing.
    const bytes = encodeData(value, `ctx.set(${JSON.stringify(name)}, value)`, "value");
    this.write("set", name, bytes);
  }

  clear(name: string): void {
    this.requireExclusive("clear");
    checkStateName("clear", name);
    this.write("clear", name, undefined);
  }

  clearAll(): void {
    this.requireExclusive("clearAll");
    const { index, recorded } = this.next("clear-all");
    this.overlay?.clear();
    this.overlayCleared = true;
    if (recorded) return;
    this.dirty.writes = [];
    this.dirty.clearedAll = true;
    this.journal.record(index, { type: "clear-all" });
  }

  private write(type: "set" | "clear", name: string, bytes: Uint8Array | undefined): void {
    const { index, recorded } = this.next(type, name);
    (this.overlay ??= new Map()).set(name, bytes);
    if (recorded) return; // committed already
    this.dirty.writes.push({ name, value: bytes });
    this.journal.record(index, { type, name });
  }

  objectSendClient<D extends ObjectDefinition>(definition: D, key: string, options?: SendClientOptions): ContextSendClient<D> {
    const problem = objectKeyProblem(key);
    if (problem !== undefined) throw new TerminalError(`ctx.objectSendClient(${definition.name}, key): ${problem}`);
    return this.sendClient(definition, (handler) => ({ type: "object", name: definition.name, key, handler }), checkDelay(`ctx.objectSendClient(${definition.name})`, options));
  }

  serviceSendClient<D extends ServiceDefinition>(definition: D, options?: SendClientOptions): ContextSendClient<D> {
    return this.sendClient(definition, (handler) => ({ type: "service", name: definition.name, handler }), checkDelay(`ctx.serviceSendClient(${definition.name})`, options));
  }

  private sendClient<D extends AnyDefinition>(definition: D, targetOf: (handler: string) => Target, delayMs: number | undefined): ContextSendClient<D> {
    const client: Record<string, (input?: unknown) => void> = {};
    for (const handler of Object.keys(definition.handlers)) {
      client[handler] = (input?: unknown) => this.send(targetOf(handler), input, delayMs);
    }
    return client as unknown as ContextSendClient<D>;
  }

  private send(target: Target, input: unknown, delayMs: number | undefined): void {
    const label = targetLabel(target);
    const data = this.encodeInput("send", label, input);
    const { index, recorded } = this.next("send", label);
    if (recorded) return; // it left with the commit that recorded it
    this.dirty.sends.push(delayMs ? { target, data, delayMs, index } : { target, data, index });
    this.journal.record(index, { type: "send", target: label });
  }

  objectClient<D extends ObjectDefinition>(definition: D, key: string): ContextCallClient<D> {
    const problem = objectKeyProblem(key);
    if (problem !== undefined) throw new TerminalError(`ctx.objectClient(${definition.name}, key): ${problem}`);
    return this.callClient(definition, (handler) => ({ type: "object", name: definition.name, key, handler }));
  }

  serviceClient<D extends ServiceDefinition>(definition: D): ContextCallClient<D> {
    return this.callClient(definition, (handler) => ({ type: "service", name: definition.name, handler }));
  }

  workflowClient<D extends WorkflowDefinition>(definition: D, key: string): ContextCallClient<D> {
    const problem = objectKeyProblem(key);
    if (problem !== undefined) throw new TerminalError(`ctx.workflowClient(${definition.name}, key): ${problem}`);
    return this.callClient(definition, (handler) => ({ type: "object", name: definition.name, key, handler }));
  }

  promise<T>(name: string): DurablePromise<T> {
    if (!this.scope.workflow) throw new TerminalError("ctx.promise(name) is only available in workflow handlers");
    checkStateName("promise", name);
    return {
      get: () => handled(this.promiseGet<T>(name)),
      peek: () => this.promisePeek<T>(name),
      resolve: (value: T) => this.completePromise(name, { ok: true, value: encodeData(value === undefined ? null : value, `ctx.promise(${JSON.stringify(name)}).resolve(value)`, "value") }),
      reject: (reason: string) => this.completePromise(name, { ok: false, error: { name: "TerminalError", message: String(reason), code: 500 } }),
    };
  }

  /** Waits for the promise durably: the wait commits, and a replay gets the outcome the first run got. */
  private async promiseGet<T>(name: string): Promise<T> {
    const { index, recorded } = this.next("promise", name);
    if (recorded?.outcome) return this.replayed<T>(index, { ...recorded, outcome: recorded.outcome });
    if (recorded) await this.caughtUp();
    let outcome = this.scope.readPromise(name);
    if (!outcome && !recorded) {
      if (this.cancelPending) throw this.cancelledWait(index, { type: "promise", name }, undefined);
      this.journal.record(index, { type: "promise", name });
      await this.suspensionPoint("suspended");
    }
    // Read again before each wait: a resolution that committed meanwhile woke nobody. Between the
    // read and the wait's registration nothing can commit (both happen in one turn).
    for (outcome ??= this.scope.readPromise(name); !outcome; outcome = this.scope.readPromise(name)) {
      try {
        await this.scope.promiseChanged(name, this.attempt, !this.cancelDelivered);
      } catch (error) {
        this.act();
        if (isInstance(error, CancelledError)) throw this.cancelledWait(index, { type: "promise", name }, undefined);
        throw error;
      }
      this.act();
    }
    // Committed with the next suspension point; until then a replay reads the same outcome from the table.
    this.journal.record(index, { type: "promise", name, outcome, at: this.journal.made });
    return resultOf<T>(outcome);
  }

  /** A recorded outcome, handed over once the replay made as many actions as the first run had when it saw it. */
  private async replayed<T>(index: number, entry: WaitEntry & { outcome: Outcome }): Promise<T> {
    if (entry.at !== undefined) {
      await this.journal.reached(entry.at);
    } else {
      // Its outcome committed, but not that the handler saw it: nothing it did after seeing it can
      // be in the journal, so it is seen once the replay caught up, and that is recorded now.
      await this.caughtUp();
      this.journal.record(index, { ...entry, at: this.journal.made });
    }
    this.act();
    return resultOf<T>(entry.outcome);
  }

  /** Resolves once a replay has made every action the journal held: a wait that had not ended by then goes on live. */
  private async caughtUp(): Promise<void> {
    await this.journal.reached(this.journal.end);
    this.act();
  }

  private async promisePeek<T>(name: string): Promise<T | undefined> {
    const { index, recorded } = this.next("promise-peek", name);
    const outcome = recorded ? recorded.outcome : (this.scope.readPromise(name) ?? null);
    if (!recorded) this.journal.record(index, { type: "promise-peek", name, outcome });
    return outcome === null ? undefined : resultOf<T>(outcome);
  }

  private completePromise(name: string, outcome: Outcome): void {
    const { index, recorded } = this.next("promise-complete", name);
    if (recorded) return;
    this.dirty.promises.push({ name, outcome });
    this.journal.record(index, { type: "promise-complete", name });
  }

  private callClient<D extends AnyDefinition>(definition: D, targetOf: (handler: string) => Target): ContextCallClient<D> {
    const client: Record<string, (input?: unknown, options?: ContextCallOptions) => Promise<unknown>> = {};
    for (const [handler, entry] of Object.entries(definition.handlers)) {
      // A workflow's run and an object's exclusive handlers wait for their key; nothing else does.
      const workflowRun = definition.type === "workflow" && handler === "run";
      const waitsForKey = definition.type === "workflow" ? workflowRun : definition.type === "object" && (isHandlerDefinition(entry) ? entry.kind === "exclusive" : true);
      client[handler] = (input?: unknown, options?: ContextCallOptions) => {
        try {
          return handled(this.call(targetOf(handler), waitsForKey, input, options, workflowRun));
        } catch (error) {
          return handled(Promise.reject(error));
        }
      };
    }
    return client as unknown as ContextCallClient<D>;
  }

  /**
   * Takes the call's journal index now, in program order (calls started together replay alike),
   * then commits it with its message and waits for the result.
   */
  private call(target: Target, waitsForKey: boolean, input: unknown, options: ContextCallOptions | undefined, workflowRun = false): Promise<unknown> {
    const label = targetLabel(target);
    const held = this.scope.heldKeys;
    // A refusal of a message whose headers do not parse could not answer this call: refused here.
    if (held.length >= MAX_CHAIN) throw new TerminalError(`${this.options.label}: a call to ${label} would make a call chain of over ${MAX_CHAIN} keys`, { errorCode: 508 });
    if (waitsForKey && target.type === "object") {
      const key = `${target.name}/${target.key}`;
      if (held.includes(key)) {
        const chain = [...held.slice(held.indexOf(key)), key].join(" → ");
        throw new TerminalError(`${this.options.label}: a call to ${label} would wait forever: it is a call cycle (${chain}), and ${key} is held higher up the same call chain; use a one-way send, or a shared handler`, {
          errorCode: 409,
        });
      }
    }
    const data = this.encodeInput("call", label, input);
    const { index, recorded } = this.next("call", label);
    if (recorded) return this.replayedWait(index, recorded, target);
    const idempotencyKey = options?.idempotencyKey;
    if (idempotencyKey !== undefined && (typeof idempotencyKey !== "string" || idempotencyKey.length === 0)) {
      throw new TerminalError(`${this.options.label}: the call to ${label}: idempotencyKey must be a non-empty string`);
    }
    // Random, not derived from this invocation's id: only the callee can complete the entry. The
    // journal keeps it, so a replay waits for the same callee.
    // A workflow's run has one id per key (its partition gives it that one whatever the message says).
    const callee = workflowRun ? workflowRunInvocationId(label) : idempotencyKey === undefined ? newInvocationId() : idempotentInvocationId(label, idempotencyKey);
    const entry: JournalEntry = { type: "call", target: label, callee };
    if (this.cancelPending) return Promise.reject(this.cancelledWait(index, entry, undefined));
    this.dirty.sends.push({ target, data, index, call: { callee } });
    this.journal.record(index, entry);
    return this.suspendFor(index, entry, target);
  }

  /**
   * A wait that ends by the cancellation (pending when it came, or started after): its entry records
   * it, and the call it waited for, if any, is cancelled too. Returns what it throws.
   */
  private cancelledWait(index: number, entry: WaitEntry, target: Target | undefined): CancelledError {
    if (entry.type === "call" && target) this.dirty.sends.push({ target, data: new Uint8Array(0), index, cancels: { callee: entry.callee } });
    try {
      this.cancelledAt(index, { ...entry, outcome: this.cancelledOutcome(), at: this.journal.made });
    } catch (error) {
      return error as CancelledError;
    }
  }

  awakeable<T>(): { id: string; promise: Promise<T> } {
    const { index, recorded } = this.next("awakeable");
    const { partition, target, invocationId } = this.scope;
    const nonce = recorded?.nonce ?? awakeableNonce();
    const id = awakeableId({ partition, invocationId: invocationId as never, target, index, nonce });
    let promise: Promise<unknown>;
    if (recorded) {
      promise = this.replayedWait(index, recorded, undefined);
    } else {
      const entry: JournalEntry = { type: "awakeable", nonce };
      if (this.cancelPending) {
        promise = Promise.reject(this.cancelledWait(index, entry, undefined));
      } else {
        this.journal.record(index, entry);
        promise = this.suspendFor(index, entry, undefined);
      }
    }
    return { id, promise: handled(promise as Promise<T>) };
  }

  resolveAwakeable<T>(id: string, value: T): void {
    const result = encodeData(value === undefined ? null : value, `ctx.resolveAwakeable(id, value)`, "value");
    this.completeAwakeable("resolveAwakeable", id, { ok: true, value: result });
  }

  rejectAwakeable(id: string, reason: string): void {
    this.completeAwakeable("rejectAwakeable", id, { ok: false, error: { name: "TerminalError", message: String(reason), code: 500 } });
  }

  private completeAwakeable(method: string, id: string, outcome: Outcome): void {
    const waiting = parseAwakeableId(id);
    if (!waiting) throw new TerminalError(`ctx.${method}(id, ...): ${JSON.stringify(String(id).slice(0, 80))} is not an awakeable id`, { errorCode: 400 });
    const { index, recorded } = this.next("send", `awakeable ${id}`);
    if (recorded) return;
    this.dirty.sends.push({ target: waiting.target, data: encode(outcome), index, completes: waiting });
    this.journal.record(index, { type: "send", target: `awakeable ${id}` });
  }

  /** A call or awakeable the journal holds: its recorded outcome, or, once the replay caught up, the wait for it. */
  private replayedWait(index: number, recorded: JournalEntry & { type: "call" | "awakeable" }, target: Target | undefined): Promise<unknown> {
    if (recorded.outcome) return this.replayed(index, { ...recorded, outcome: recorded.outcome });
    return this.caughtUp().then(() => this.awaitEntry(index, recorded, target));
  }

  /**
   * Commits the journal so far (the entry at `index` in it), then waits for that entry's outcome.
   * The commit waits for the code that runs on synchronously first: calls started together commit
   * as one, and an awakeable's id handed out right after it is made (a state write, a send) commits
   * with it.
   */
  private async suspendFor(index: number, entry: JournalEntry & { type: "call" | "awakeable" }, target: Target | undefined): Promise<unknown> {
    await Promise.resolve();
    await this.suspensionPoint("suspended");
    return this.awaitEntry(index, entry, target);
  }

  /** Waits for a call's or awakeable's outcome, and records when the handler saw it (see `JournalEntry`'s `at`). */
  private async awaitEntry(index: number, entry: JournalEntry & { type: "call" | "awakeable" }, target: Target | undefined): Promise<unknown> {
    let outcome: Outcome;
    try {
      outcome = await this.scope.awaitEntry(index, this.attempt, !this.cancelDelivered);
    } catch (error) {
      this.act();
      if (isInstance(error, CancelledError)) throw this.cancelledWait(index, entry, target);
      throw error;
    }
    this.act();
    this.journal.record(index, { ...entry, outcome, at: this.journal.made });
    return resultOf(outcome);
  }

  /** A call's or send's input, encoded and checked against the payload limit, where the stack points at the caller. */
  private encodeInput(what: "call" | "send", label: string, input: unknown): Uint8Array {
    const data = encodeData(input, `the input of the ${what} to ${label}`, "input");
    const { maxPayloadBytes } = this.options;
    if (data.byteLength > maxPayloadBytes) {
      throw new TerminalError(`${this.options.label}: the ${what} to ${label} is ${data.byteLength} bytes, over the maximum of ${maxPayloadBytes} bytes`, { errorCode: 413 });
    }
    return data;
  }

  run<T>(name: string, fn: () => T | Promise<T>, options?: RunOptions): Promise<T> {
    return handled(this.step(name, fn, options));
  }

  private async step<T>(name: string, fn: () => T | Promise<T>, options?: RunOptions): Promise<T> {
    if (typeof name !== "string" || name.length === 0) throw new TerminalError("ctx.run(name, fn): name must be a non-empty string");
    if (typeof fn !== "function") throw new TerminalError(`ctx.run(${JSON.stringify(name)}, fn): fn must be a function`);
    const { index, recorded } = this.next("run", name);
    if (recorded) return resultOf(recorded.outcome);
    if (this.cancelPending) return this.cancelledAt(index, { type: "run", name, outcome: this.cancelledOutcome() });
    this.stepsRunning++;
    this.stepsCounted++;
    this.scope.stepRunning(1);
    let outcome: Outcome;
    try {
      outcome = await this.attemptStep(name, fn, options);
    } catch (error) {
      // Cancelled while it waited to retry: the step ends there.
      if (!isInstance(error, CancelledError) || !this.cancelPending) throw error;
      outcome = this.cancelledOutcome();
      this.cancelDelivered = true;
      this.cancelInBatch = true;
    } finally {
      this.stepsRunning--;
      if (this.stepsCounted > 0) {
        this.stepsCounted--;
        this.scope.stepRunning(-1);
      }
    }
    this.act(); // the attempt may have ended while the step ran
    this.journal.record(index, { type: "run", name, outcome });
    await this.suspensionPoint("running");
    return resultOf(outcome);
  }

  /** Runs a step's function until it succeeds or fails for good under its policy. */
  private async attemptStep(name: string, fn: () => unknown, options: RunOptions | undefined): Promise<Outcome> {
    const { timeoutMs, ...retry } = options ?? {};
    const policy = resolveRetryPolicy(this.options.stepPolicy, retry);
    const label = `${this.options.label}: ctx.run(${JSON.stringify(name)})`;
    for (let attempt = 1; ; attempt++) {
      try {
        const value = await withTimeout(Promise.resolve().then(fn), timeoutMs, label);
        return { ok: true, value: value === undefined ? new Uint8Array(0) : encodeData(value, `${label}: the result`, "result") };
      } catch (error) {
        this.act();
        const action = classifyFailure(error, attempt, policy, label);
        if (action.type === "fail") {
          if (!action.exhausted || retry.maxAttempts !== undefined || policy.onMaxAttempts !== "pause") return action.outcome;
          const { name: errorName, message } = describeThrown(error);
          // The attempt fails with it even if the handler catches it: the invocation pauses (see the error).
          throw (this.mismatch ??= new StepRetriesExhaustedError(`${label}: failed after ${attempt} attempts: ${errorName}: ${message}`));
        }
        this.scope.log.warn({ err: error, step: name, attempt, retryInMs: action.delayMs }, "step failed; retrying");
        await this.scope.waitUntil(this.scope.now() + action.delayMs, this.attempt, !this.cancelDelivered);
        this.act();
      }
    }
  }

  sleep(ms: number): Promise<void> {
    return handled(this.sleepFor(ms));
  }

  private async sleepFor(ms: number): Promise<void> {
    if (!Number.isSafeInteger(ms) || ms < 0) throw new TerminalError(`ctx.sleep(ms): ms must be a whole number of milliseconds, 0 or more (got ${String(ms)})`);
    const { index, recorded } = this.next("sleep");
    if (recorded?.wokeAt !== undefined) {
      await this.journal.reached(recorded.wokeAt);
      this.act();
      if (recorded.cancelled) throw this.cancelledError();
      return;
    }
    let wakeAtMs: number;
    if (recorded) {
      wakeAtMs = recorded.wakeAtMs;
      await this.caughtUp();
    } else {
      wakeAtMs = this.scope.now() + ms;
      if (this.cancelPending) return this.cancelledAt(index, { type: "sleep", wakeAtMs, wokeAt: this.journal.made, cancelled: true });
      this.journal.record(index, { type: "sleep", wakeAtMs });
      await this.suspensionPoint("suspended", wakeAtMs);
    }
    try {
      await this.scope.waitUntil(wakeAtMs, this.attempt, !this.cancelDelivered);
    } catch (error) {
      this.act();
      if (!isInstance(error, CancelledError)) throw error;
      return this.cancelledAt(index, { type: "sleep", wakeAtMs, wokeAt: this.journal.made, cancelled: true });
    }
    this.act();
    this.journal.record(index, { type: "sleep", wakeAtMs, wokeAt: this.journal.made });
  }

  /** The outcome a cancelled wait or step records. */
  private cancelledOutcome(): Outcome {
    return { ok: false, error: { name: "CancelledError", message: `${this.options.label}: invocation ${this.scope.invocationId} was cancelled`, code: 409 } };
  }

  private cancelledError(): CancelledError {
    const { error } = this.cancelledOutcome() as Outcome & { ok: false };
    return new CancelledError(error.message, { errorCode: error.code });
  }

  /**
   * The handler sees the cancellation here: the action at `index` records it (a replay throws it at
   * the same place) and throws it. Seen once: the compensation that follows runs normally.
   */
  private cancelledAt(index: number, entry: JournalEntry): never {
    this.journal.record(index, entry);
    this.cancelDelivered = true;
    this.cancelInBatch = true;
    throw this.cancelledError();
  }

  /** An operator's cancel this attempt has yet to throw. */
  private get cancelPending(): boolean {
    return this.scope.cancelPending && !this.cancelDelivered;
  }

  /** Whether this attempt threw the operator's cancel (an attempt that fails after it sees it again). */
  get sawCancel(): boolean {
    return this.cancelDelivered;
  }

  private now(): number {
    const { index, recorded } = this.next("now");
    if (recorded) return recorded.value;
    const value = this.scope.now();
    this.journal.record(index, { type: "now", value });
    return value;
  }

  /** Commits the journal so far with the effects made since the last suspension point. */
  private async suspensionPoint(status: "running" | "suspended", wakeAtMs?: number): Promise<void> {
    this.act();
    const journal = this.journal.take();
    const effects = this.takeEffects();
    // Taken by a suspension point started together with this one, which commits it.
    if (journal.length === 0 && effects.writes.length === 0 && effects.sends.length === 0 && effects.promises.length === 0 && !effects.clearedAll) return;
    const progress: Progress = { status, journal, effects, failedAttempts: this.scope.failedAttempts };
    if (this.cancelInBatch) {
      progress.cancelSeen = true;
      this.cancelInBatch = false;
    }
    if (wakeAtMs !== undefined) progress.wakeAtMs = wakeAtMs;
    await this.scope.commit(progress);
    this.act();
    if (this.scope.alwaysReplay && this.stepsRunning === 0) {
      this.replay = true;
      this.endedWhy = "replayed after its suspension point (alwaysReplay)";
      throw (this.ended = attemptEnded(this.options.label, this.endedWhy));
    }
  }

  private takeEffects(): EncodedEffects {
    const taken = this.dirty;
    this.dirty = emptyEffects();
    return taken;
  }

  /** Takes the next journal index, once the attempt is known to be live. */
  private next<T extends JournalEntry["type"]>(type: T, name?: string) {
    this.act();
    try {
      return this.journal.next(type, name);
    } catch (error) {
      if (error instanceof JournalMismatchError) this.mismatch ??= error;
      throw error;
    }
  }

  /** Throws if the attempt can no longer act: it ended, or it diverged from its journal. */
  private act(): void {
    if (this.endedWhy !== undefined) throw (this.ended ??= attemptEnded(this.options.label, this.endedWhy));
    if (this.mismatch) throw this.mismatch;
  }

  private requireObject(method: string): void {
    if (this.scope.kind === "service") throw new TerminalError(`ctx.${method}(...) may only be called from an object handler`);
  }

  private requireExclusive(method: string): void {
    if (this.scope.kind !== "exclusive") {
      throw new TerminalError(`ctx.${method}(...) may only be called from an exclusive handler`);
    }
  }
}

/**
 * Marks a context promise's rejection as handled: a handler may leave one floating (the loser of a
 * race, a step it did not await), and an unhandled rejection must not take the host down. Whoever
 * awaits it still gets the rejection.
 */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

function emptyEffects(): EncodedEffects {
  return { clearedAll: false, writes: [], sends: [], promises: [] };
}

/** The entries of waits whose outcome comes from elsewhere, and which record when the handler saw it. */
type WaitEntry = JournalEntry & { type: "call" | "awakeable" | "promise" };

/** A step's recorded result as the handler gets it: the same on the first run and on a replay. */
function resultOf<T>(outcome: Outcome): T {
  if (!outcome.ok) throw outcomeError(outcome.error);
  return (outcome.value.byteLength === 0 ? undefined : decode(outcome.value)) as T;
}

/** Why an ended attempt's context refuses: the partition stopped, or the attempt ran out its time. */
export function attemptEnded(label: string, why: string): HostClosedError {
  return new HostClosedError(`${label}: this attempt has ended (${why}); its context takes no more actions`);
}

/** The delay of a send client's options, checked: a whole number of milliseconds, 0 or more. */
function checkDelay(call: string, options: SendClientOptions | undefined): number | undefined {
  const delayMs = options?.delayMs;
  if (delayMs === undefined) return undefined;
  if (!Number.isSafeInteger(delayMs) || delayMs < 0) throw new TerminalError(`${call}: delayMs must be a whole number of milliseconds, 0 or more (got ${String(delayMs)})`);
  return delayMs;
}

function checkStateName(method: string, name: string): void {
  const problem = stateNameProblem(name);
  if (problem !== undefined) throw new TerminalError(`ctx.${method}(name, ...): ${problem}`);
}

/**
 * xoshiro128** seeded from the invocation id: every attempt of an invocation draws the same
 * sequence, so nothing needs journaling.
 */
function seededRandom(invocationId: string): ContextRandom {
  const seed = createHash("sha256").update("cairn-rand").update(invocationId).digest();
  const s = new Uint32Array([seed.readUInt32LE(0), seed.readUInt32LE(4), seed.readUInt32LE(8), seed.readUInt32LE(12)]);
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1] as number, 5), 7), 9) >>> 0;
    const t = (s[1] as number) << 9;
    s[2] = (s[2] as number) ^ (s[0] as number);
    s[3] = (s[3] as number) ^ (s[1] as number);
    s[1] = (s[1] as number) ^ (s[2] as number);
    s[0] = (s[0] as number) ^ (s[3] as number);
    s[2] = (s[2] as number) ^ t;
    s[3] = rotl(s[3] as number, 11);
    return result;
  };
  return {
    // 53 random bits, as Math.random has.
    random: () => ((next() >>> 5) * 67_108_864 + (next() >>> 6)) / 9_007_199_254_740_992,
    uuidv4: () => {
      const bytes = Buffer.alloc(16);
      for (let i = 0; i < 16; i += 4) bytes.writeUInt32LE(next(), i);
      bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
      bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
      const hex = bytes.toString("hex");
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
