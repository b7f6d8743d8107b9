import { decode, encode } from "./codec.js";
import { parseInvocationId } from "./ids.js";
import { type Caller, type Target, objectKeyProblem } from "./wire.js";

const PREFIX = "awk_";
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;

/**
 * An awakeable's id: where its invocation waits (partition, invocation, target, journal index),
 * base64url-encoded, so that whoever completes it can address the waiting partition directly.
 * Opaque to users; checked when parsed, since it comes from outside.
 */
export function awakeableId(waiting: Caller): string {
  const { partition, invocationId, target, index } = waiting;
  const t = target.type === "object" ? ["o", target.name, target.handler, target.key] : ["s", target.name, target.handler];
  return PREFIX + Buffer.from(encode([partition, invocationId, index, t])).toString("base64url");
}

/** The waiting invocation an awakeable id names, or `undefined` when `id` is not one. */
export function parseAwakeableId(id: unknown): Caller | undefined {
  if (typeof id !== "string" || !id.startsWith(PREFIX) || id.length > 4096) return undefined;
  let value: unknown;
  try {
    value = decode(Buffer.from(id.slice(PREFIX.length), "base64url"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 4) return undefined;
  const [partition, rawId, index, t] = value as unknown[];
  const invocationId = parseInvocationId(String(rawId));
  if (!Number.isSafeInteger(partition) || (partition as number) < 0 || !Number.isSafeInteger(index) || (index as number) < 0 || !invocationId) return undefined;
  if (!Array.isArray(t) || !t.every((part) => typeof part === "string")) return undefined;
  const [kind, name = "", handler = "", key] = t as string[];
  if (!NAME.test(name) || !NAME.test(handler)) return undefined;
  let target: Target;
  if (kind === "o" && t.length === 4 && key !== undefined && objectKeyProblem(key) === undefined) target = { type: "object", name, handler, key };
  else if (kind === "s" && t.length === 3) target = { type: "service", name, handler };
  else return undefined;
  return { partition: partition as number, invocationId, target, index: index as number };
}
