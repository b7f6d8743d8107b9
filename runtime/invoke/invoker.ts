import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { z } from "zod";
import { TerminalError } from "../../sdk/index.js";
import { type AttemptEffects, ContextImpl, type InvocationScope, type Target, decode, describeThrown, encodeData, targetLabel } from "../../sdk/internal.js";
import { AttemptTimeoutError, HostClosedError } from "../errors.js";
import type { Outcome } from "../store/index.js";
import { classifyFailure, terminalOutcome } from "./classify.js";
import type { ResolvedHandler } from "./registry.js";
import { type ResolvedRetryPolicy, resolveRetryPolicy } from "./retry.js";

export interface InvokeOptions {
  maxPayloadBytes: number;
  retryPolicy: ResolvedRetryPolicy;
  /** Aborted when the host closes: a backing-off invocation stops and is redelivered later. */
  signal: AbortSignal;
  /** Waits out a retry's backoff; rejects when `signal` aborts. @default a real-time timer */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const realTimeSleep = (ms: number, signal: AbortSignal): Promise<void> => sleep(ms, undefined, { signal });

/** A successful attempt's effects, encoded: committing them cannot fail on a value. */
export interface EncodedEffects {
  clearedAll: boolean;
  /** `value: undefined` deletes the entry. */
  writes: Array<{ name: string; value: Uint8Array | undefined }>;
  sends: Array<{ target: Target; data: Uint8Array; delayMs?: number }>;
}

/** The end of an invocation: its outcome, and on success the effects to commit with it. */
export interface InvocationResult {
  outcome: Outcome;
  effects: EncodedEffects | undefined;
  attempts: number;
}

/**
 * Encodes what an attempt produced. A value that does not encode is a bug in the handler that
 * no retry can fix, so it fails the invocation; a send over the payload limit likewise.
 */
function encodeEffects(effects: AttemptEffects, label: string, maxPayloadBytes: number): EncodedEffects {
  const writes = [...effects.writes].map(([name, write]) => ({
    name,
    value: write ? encodeData(write.value, `${label}: ctx.set(${JSON.stringify(name)}, value)`, "value") : undefined,
  }));
  const sends = effects.sends.map(({ target, input, delayMs }) => {
    const data = encodeData(input, `${label}: the input of the send to ${targetLabel(target)}`, "input");
    if (data.byteLength > maxPayloadBytes) {
      throw new TerminalError(`${label}: the send to ${targetLabel(target)} is ${data.byteLength} bytes, over the maximum of ${maxPayloadBytes} bytes`, {
        errorCode: 413,
      });
    }
    return delayMs ? { target, data, delayMs } : { target, data };
  });
  return { clearedAll: effects.clearedAll, writes, sends };
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

async function withTimeout<T>(work: Promise<T>, timeoutMs: number | undefined, label: string): Promise<T> {
  if (timeoutMs === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeoutError(`${label}: the attempt ran past its timeoutMs of ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The raw error keeps its stack and fields in the log; pino's serializer reads getters and Proxy
 * traps, so a value that throws from them is logged by its safe description instead.
 */
function logRetry(log: Logger, error: unknown, attempt: number, retryInMs: number): void {
  try {
    log.warn({ err: error, attempt, retryInMs }, "handler failed; retrying");
  } catch {
    log.warn({ error: describeThrown(error), attempt, retryInMs }, "handler failed; retrying");
  }
}

function fail(error: TerminalError): InvocationResult {
  return { outcome: terminalOutcome(error), effects: undefined, attempts: 0 };
}

/**
 * Runs one invocation to its end: refuses bad input at once, then attempts the handler until it
 * succeeds or fails terminally, waiting out the retry policy's backoff between attempts.
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

  const policy = resolveRetryPolicy(options.retryPolicy, handler.retryPolicy);
  for (let attempt = 1; ; attempt++) {
    const ctx = new ContextImpl(scope);
    try {
      let value = await withTimeout(Promise.resolve(handler.fn(ctx as never, input)), handler.timeoutMs, label);
      if (handler.output) value = parseWith(handler.output, value, label, "output");
      const result = encodeData(value === undefined ? null : value, `${label}: the result`, "result");
      return { outcome: { ok: true, value: result }, effects: encodeEffects(ctx.effects, label, options.maxPayloadBytes), attempts: attempt };
    } catch (error) {
      const action = classifyFailure(error, attempt, policy, label);
      if (action.type === "fail") return { outcome: action.outcome, effects: undefined, attempts: attempt };
      logRetry(scope.log, error, attempt, action.delayMs);
      try {
        await (options.sleep ?? realTimeSleep)(action.delayMs, options.signal);
      } catch {
        throw new HostClosedError(`${label}: host closed while waiting to retry`);
      }
    }
  }
}
