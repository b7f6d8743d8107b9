import type { Logger } from "pino";
import type { z } from "zod";
import { CancelledError, TerminalError } from "../../sdk/index.js";
import { decode, describeThrown, encodeData } from "../../sdk/internal.js";
import { HostClosedError, InvocationKilledError, JournalMismatchError, StepRetriesExhaustedError } from "../errors.js";
import type { Outcome } from "../store/index.js";
import { classifyFailure, isInstance, terminalOutcome } from "./classify.js";
import { DurableContext, type EncodedEffects, type InvocationScope } from "./context.js";
import { AttemptJournal } from "./journal.js";
import type { ResolvedHandler } from "./registry.js";
import { type ResolvedRetryPolicy, resolveRetryPolicy } from "./retry.js";
import { withTimeout } from "./timeout.js";

export interface InvokeOptions {
  maxPayloadBytes: number;
  retryPolicy: ResolvedRetryPolicy;
  /** Aborted when the partition stops: the invocation stops where it is (what it committed stays). */
  signal: AbortSignal;
}

/**
 * A retry's backoff at least this long is committed (the invocation's row says when it runs again),
 * so that it survives a restart and holds no inbox message meanwhile; a shorter one just waits.
 */
export const DURABLE_BACKOFF_MS = 1000;

/** The end of an invocation: its outcome, and the effects to commit with it (made since its last suspension point). */
export interface InvocationResult {
  outcome: Outcome;
  effects: EncodedEffects | undefined;
  attempts: number;
  /** An operator killed it: the calls it waits on are killed too. */
  killed?: true;
}

function describeIssues(error: z.ZodError, root: string): string {
  return error.issues.map((issue) => `${[root, ...issue.path.map(String)].join(".")}: ${issue.message}`).join("; ");
}

/**
 * Validates a handler's input or output against its schema. A failure, or a refinement or
 * transform of the schema that throws, is a `TerminalError`: no retry can change the value.
 */
function parseWith(schema: z.ZodType, value: unknown, label: string, what: "input" | "output"): unknown {
  const options = what === "input" ? { errorCode: 400 } : {};
  let parsed: ReturnType<z.ZodType["safeParse"]>;
  try {
    parsed = schema.safeParse(value);
  } catch (error) {
    throw new TerminalError(`${label}: invalid ${what}: ${describeThrown(error).message}`, { ...options, cause: error });
  }
  if (!parsed.success) throw new TerminalError(`${label}: invalid ${what}: ${describeIssues(parsed.error, what)}`, options);
  return parsed.data;
}

/**
 * The raw error keeps its stack and fields in the log; pino's serializer reads getters and Proxy
 * traps, so a value that throws from them is logged by its safe description instead.
 */
function logRetry(log: Logger, error: unknown, attempt: number, retryInMs: number): void {
  // A journal mismatch needs someone to deploy the right code: said loudly.
  const level = isInstance(error, JournalMismatchError) ? "error" : "warn";
  try {
    log[level]({ err: error, attempt, retryInMs }, "handler failed; retrying");
  } catch {
    log[level]({ error: describeThrown(error), attempt, retryInMs }, "handler failed; retrying");
  }
}

function fail(error: TerminalError): InvocationResult {
  return { outcome: terminalOutcome(error), effects: undefined, attempts: 0 };
}

/**
 * Runs one invocation to its end: refuses bad input at once, then attempts the handler until it
 * succeeds or fails terminally, waiting out the retry policy's backoff between attempts. Each
 * attempt replays the journal committed so far. Throws `HostClosedError` when the partition stops.
 */
export async function invoke(handler: ResolvedHandler, data: Uint8Array, scope: InvocationScope, options: InvokeOptions): Promise<InvocationResult> {
  const { label } = handler;
  if (data.byteLength > options.maxPayloadBytes) {
    return fail(
      new TerminalError(`${label}: payload of ${data.byteLength} bytes exceeds the maximum of ${options.maxPayloadBytes} bytes`, { errorCode: 413 }),
    );
  }
  let input: unknown;
  try {
    input = data.byteLength === 0 ? undefined : decode(data);
  } catch (error) {
    return fail(new TerminalError(`${label}: input is not valid msgpack (${describeThrown(error).message})`, { errorCode: 400 }));
  }
  if (handler.input) {
    try {
      input = parseWith(handler.input, input, label, "input");
    } catch (error) {
      return fail(error as TerminalError);
    }
  }

  const policy = policyOf(handler, options.retryPolicy);
  let current: DurableContext | undefined;
  let attempts = 0;
  const run = attemptUntilDone(handler, input, scope, options, policy, (ctx, attempt) => {
    current = ctx;
    attempts = attempt;
  });
  try {
    return await Promise.race([run, scope.whenKilled()]);
  } catch (error) {
    if (!isInstance(error, InvocationKilledError)) throw error;
    // The handler's code cannot be stopped; its context refuses every further action, and nothing
    // it did since its last suspension point is committed.
    current?.end("the invocation was killed");
    run.catch(() => undefined);
    const killed = new CancelledError(`${label}: invocation ${scope.invocationId} was killed`);
    return { outcome: terminalOutcome(killed), effects: undefined, attempts, killed: true };
  }
}

/**
 * The attempts of one invocation: each replays the journal so far; a failure is retried under the
 * policy, and once its attempts run out the invocation pauses (or fails, as the policy says) until an
 * operator resumes it (with a fresh budget) or cancels or kills it.
 */
async function attemptUntilDone(
  handler: ResolvedHandler,
  input: unknown,
  scope: InvocationScope,
  options: InvokeOptions,
  policy: ResolvedRetryPolicy,
  started: (ctx: DurableContext, attempt: number) => void,
): Promise<InvocationResult> {
  const { label } = handler;
  const attemptOptions = { label, maxPayloadBytes: options.maxPayloadBytes, stepPolicy: options.retryPolicy };
  if (scope.paused) await scope.waitForControl();
  else if (scope.nextAttemptAtMs !== undefined) await scope.backoff(scope.nextAttemptAtMs);
  for (let attempt = scope.failedAttempts + 1; ; attempt++) {
    // Killed while it waited: no attempt starts after a kill.
    if (scope.killed) throw new InvocationKilledError(`${label}: invocation ${scope.invocationId} was killed`);
    const ctx = new DurableContext(scope, new AttemptJournal(scope.journal, label, scope.invocationId), attemptOptions, attempt);
    started(ctx, attempt);
    let value: unknown;
    let failure: { error: unknown } | undefined;
    try {
      value = await withTimeout(Promise.resolve(handler.fn(ctx as never, input)), handler.timeoutMs, label);
    } catch (error) {
      failure = { error };
    }
    const effects = ctx.end(failure ? "it failed" : "the handler returned");
    // A stop the handler outlived, or a journal mismatch it caught, still ends the attempt.
    if (options.signal.aborted) throw new HostClosedError(`${label}: the partition stopped`, { cause: failure?.error });
    if (ctx.replayRequested) {
      attempt--; // a replay is not an attempt
      continue;
    }
    if (isInstance(failure?.error, HostClosedError)) throw new HostClosedError(`${label}: the partition stopped`, { cause: failure?.error });
    if (ctx.diverged) failure = { error: ctx.diverged };
    const unreplayed = failure ? undefined : ctx.unreplayed();
    if (unreplayed) failure = { error: unreplayed };
    if (!failure) {
      try {
        if (handler.output) value = parseWith(handler.output, value, label, "output");
        const result = encodeData(value === undefined ? null : value, `${label}: the result`, "result");
        return { outcome: { ok: true, value: result }, effects, attempts: attempt };
      } catch (error) {
        return { outcome: terminalOutcome(error as TerminalError), effects: undefined, attempts: attempt };
      }
    }
    const { error } = failure;
    // A TerminalError the handler threw ends the invocation with what it did before throwing.
    if (isTerminal(error)) return { outcome: terminalOutcome(error), effects, attempts: attempt };
    // Cancelled before it reached an await to see it: no retry can deliver it better.
    if (scope.cancelPending && !ctx.sawCancel) {
      const cancelled = new CancelledError(`${label}: invocation ${scope.invocationId} was cancelled (its attempt had failed: ${describeThrown(error).message})`);
      return { outcome: terminalOutcome(cancelled), effects: undefined, attempts: attempt };
    }
    const action = isInstance(error, StepRetriesExhaustedError) ? ({ type: "fail", outcome: terminalOutcome(new TerminalError(error.message)), exhausted: true } as const) : classifyFailure(error, attempt, policy, label);
    const { name, message } = describeThrown(error);
    const lastError = `${name}: ${message}`;
    if (action.type === "fail") {
      if (!action.exhausted || policy.onMaxAttempts === "fail") return { outcome: action.outcome, effects: undefined, attempts: attempt };
      await scope.commit({ status: "paused", journal: [], effects: undefined, failedAttempts: attempt, lastError });
      logPaused(scope, attempt, lastError, error);
      await scope.waitForControl(ctx.sawCancel);
      attempt = scope.failedAttempts; // a resume starts a fresh retry budget
      continue;
    }
    logRetry(scope.log, error, attempt, action.delayMs);
    const nextAttemptAtMs = scope.now() + action.delayMs;
    if (action.delayMs >= DURABLE_BACKOFF_MS || scope.durable) {
      await scope.commit({ status: "backing-off", journal: [], effects: undefined, failedAttempts: attempt, nextAttemptAtMs, lastError });
    }
    await scope.backoff(nextAttemptAtMs, ctx.sawCancel);
  }
}

/** One clear line: what happened, and what the operator does next. */
function logPaused(scope: InvocationScope, attempt: number, lastError: string, error: unknown): void {
  const id = scope.invocationId;
  const advice = `fix the cause (deploy the fix), then \`cairn invocations resume ${id}\`; or end it with \`cairn invocations kill ${id}\` (or cancel, to run its compensation)`;
  try {
    scope.log.error({ err: error, attempt, lastError }, `invocation paused after ${attempt} failed attempts; it holds its key until resumed or killed: ${advice}`);
  } catch {
    scope.log.error({ attempt, lastError }, `invocation paused after ${attempt} failed attempts; it holds its key until resumed or killed: ${advice}`);
  }
}

const policies = new WeakMap<ResolvedHandler, { base: ResolvedRetryPolicy; policy: ResolvedRetryPolicy }>();

/** The handler's retry policy over the host's: resolved once per handler, not per invocation. */
function policyOf(handler: ResolvedHandler, base: ResolvedRetryPolicy): ResolvedRetryPolicy {
  const cached = policies.get(handler);
  if (cached?.base === base) return cached.policy;
  const policy = resolveRetryPolicy(base, handler.retryPolicy);
  policies.set(handler, { base, policy });
  return policy;
}

function isTerminal(error: unknown): error is TerminalError {
  return isInstance(error, TerminalError);
}
