import { TerminalError } from "../errors.js";
import type { InvocationId } from "./ids.js";

export const TargetType = { Object: "object", Service: "service" } as const;
export type TargetType = (typeof TargetType)[keyof typeof TargetType];

/** Which handler an invocation runs: `Name.handler`, with the key for objects. */
export type Target =
  | { type: "object"; name: string; key: string; handler: string }
  | { type: "service"; name: string; handler: string };

export function targetLabel(target: Target): string {
  return target.type === "object" ? `${target.name}/${target.key}/${target.handler}` : `${target.name}/${target.handler}`;
}

/** A target from its label (the inverse of `targetLabel`): names and handlers hold no `/`, keys may. */
export function parseTargetLabel(label: string): Target | undefined {
  const first = label.indexOf("/");
  const last = label.lastIndexOf("/");
  if (first < 0) return undefined;
  const name = label.slice(0, first);
  const handler = label.slice(last + 1);
  return first === last ? { type: "service", name, handler } : { type: "object", name, key: label.slice(first + 1, last), handler };
}

/**
 * Where a request-response caller waits, and how it recognises its answer: a NATS subject (a client
 * over NATS), or a caller in the host's own process (`host.client` in embedded mode, the ingress).
 */
export type ReplyAddress = { kind: "nats"; subject: string; callId: string } | { kind: "local"; callId: string };

/**
 * The invocation waiting for a call's result, and at which entry of its journal: when the call
 * completes, its result goes back to the caller's partition as a complete-entry command.
 */
export interface Caller {
  partition: number;
  invocationId: InvocationId;
  target: Target;
  index: number;
}

export interface Envelope {
  invocationId: InvocationId;
  target: Target;
  replyTo?: ReplyAddress;
  /**
   * A delayed send: the partition that accepts it keeps it as a durable timer and delivers it this
   * long after accepting it. Never set on a message a timer delivers.
   */
  delayMs?: number;
  /** A call from a handler: where its result goes (durably, unlike `replyTo`). */
  caller?: Caller;
  /**
   * The exclusive keys (`Name/key`) held by the invocations up the call chain of a handler's call:
   * a call that would wait on one of them would wait forever, and is refused instead.
   */
  chain?: string[];
  /**
   * A complete-entry command, not an invocation: the body is the result (an outcome, msgpack) of
   * entry `index` of invocation `invocationId` (a call's, or an awakeable's). `from` is the callee
   * whose result it is, checked against the call the entry recorded.
   */
  completes?: { index: number; from?: string };
  /**
   * A command for the live invocation `invocationId` (its target's), not an invocation: a cancelled or
   * killed caller's, passed on to the callee it waits on. Taken only from a caller the callee
   * answers (`caller`). An operator's commands do not travel through the inbox (see `InvocationControl`).
   */
  control?: ControlCommand;
}

/**
 * `cancel`: the invocation's pending and next await throws a `CancelledError` (compensation runs), and
 * the calls it waits on are cancelled too. `kill`: it ends at once with a `CancelledError` to its
 * callers, releasing its key, and the calls it waits on are killed too. `resume`: a paused
 * invocation runs again (one backing off runs now).
 */
export type ControlCommand = "cancel" | "kill" | "resume";

/**
 * A host's answer to an operator's control command: the partition that holds the invocation live
 * (the command is durable there), or the partitions it looked in.
 */
export type ControlReply = { found: true; partition: number } | { found: false; ownedPartitions: number[] };

/** Over NATS, operators' control commands are requests to the hosts on this subject (hosts' permissions only). */
export function controlRequestSubject(namespace: string): string {
  return `${namespace}.admin.control`;
}


/**
 * Limits that keep every LMDB key (partition, object, key, state name) under LMDB's 1,978-byte
 * maximum, checked before anything is committed.
 */
export const MAX_KEY_BYTES = 1024;
export const MAX_STATE_NAME_BYTES = 256;

/**
 * Where `text` holds its first lone surrogate (a UTF-16 half without its pair), or -1 when it is
 * well-formed. A lone surrogate has no UTF-8 form (encoders put U+FFFD in its place), so two keys
 * differing only there would become one LMDB key, and `encodeURIComponent` throws on it.
 */
export function loneSurrogateIndex(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = text.charCodeAt(i + 1);
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i++;
      continue;
    }
    return i;
  }
  return -1;
}

/**
 * Why `key` cannot be an object key, or `undefined` when it can: the one rule the client, `ctx` and
 * the host apply (any well-formed string of at most {@link MAX_KEY_BYTES} bytes of UTF-8).
 */
export function objectKeyProblem(key: unknown): string | undefined {
  if (typeof key !== "string") return `an object key must be a string (got ${typeof key})`;
  const lone = loneSurrogateIndex(key);
  if (lone >= 0) return `the object key holds a lone surrogate at index ${lone}; an object key must be well-formed UTF-16`;
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `the object key is over ${MAX_KEY_BYTES} bytes`;
  return undefined;
}

/** Why `name` cannot be a state name, or `undefined` when it can (the same rule wherever it is checked). */
export function stateNameProblem(name: unknown): string | undefined {
  const allowed = `a state name must be a non-empty string of at most ${MAX_STATE_NAME_BYTES} bytes`;
  if (typeof name !== "string" || name.length === 0 || Buffer.byteLength(name) > MAX_STATE_NAME_BYTES) return allowed;
  const lone = loneSurrogateIndex(name);
  if (lone >= 0) return `${allowed}, well-formed UTF-16 (it holds a lone surrogate at index ${lone})`;
  return undefined;
}

export function inboxSubject(namespace: string, partition: number): string {
  return `${namespace}.in.${partition}`;
}

/** A namespace as it may appear in stream and KV bucket names. */
export function namespaceToken(namespace: string): string {
  return namespace.replace(/[^A-Za-z0-9_-]/g, "_");
}

export function inboxStreamName(namespace: string): string {
  return `${namespaceToken(namespace).toUpperCase()}_INBOX`;
}

/** The stream description records the partition count, so clients and later hosts can check it. */
export function streamDescription(partitions: number): string {
  return `cairn inbox; partitions=${partitions}`;
}

export function partitionsFromDescription(description: string | undefined): number | undefined {
  const match = /partitions=(\d+)/.exec(description ?? "");
  return match?.[1] ? Number(match[1]) : undefined;
}

/** The answer to a request-response call; `value` is the msgpack-encoded result. */
export type Reply =
  | { callId: string; invocationId: string; ok: true; value: Uint8Array }
  | { callId: string; invocationId: string; ok: false; error: { name: string; message: string; code: number } };

/** Checks the shape of a decoded reply: it comes off the wire, so it is not trusted. */
export function isReply(value: unknown): value is Reply {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  if (typeof r.callId !== "string" || typeof r.invocationId !== "string") return false;
  if (r.ok === true) return r.value instanceof Uint8Array;
  const error = r.error as Record<string, unknown> | undefined;
  return r.ok === false && typeof error === "object" && error !== null && typeof error.message === "string" && typeof error.name === "string";
}
