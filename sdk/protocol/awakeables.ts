import { randomBytes } from "node:crypto";
import { decode, encode } from "./codec.js";
import { parseInvocationId } from "./ids.js";
import { type Caller, type Target, objectKeyProblem } from "./wire.js";

const PREFIX = "awk_";
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;
const NONCE = /^[0-9a-f]{32}$/;

/** Where an awakeable waits, and the secret that completes it. */
export interface AwakeableAddress extends Caller {
  nonce: string;
}

/** A new awakeable's secret: recorded in its journal entry, and part of its id. */
export function awakeableNonce(): string {
  return randomBytes(16).toString("hex");
}

/**
 * An awakeable's id: where its invocation waits (partition, invocation, target, journal index),
 * base64url-encoded, so that whoever completes it can address the waiting partition directly, and a
 * random nonce, so that knowing an invocation's id is not enough to complete its awakeables.
 * Opaque to users; checked when parsed, since it comes from outside.
 */
export function awakeableId(waiting: AwakeableAddress): string {
  const { partition, invocationId, target, index, nonce } = waiting;
  const t = target.type === "object" ? ["o", target.name, target.handler, target.key] : ["s", target.name, target.handler];
  return PREFIX + Buffer.from(encode([partition, invocationId, index, t, nonce])).toString("base64url");
}

/** The waiting invocation an awakeable id names, or `undefined` when `id` is not one. */
export function parseAwakeableId(id: unknown): AwakeableAddress | undefined {
  if (typeof id !== "string" || !id.startsWith(PREFIX) || id.length > 4096) return undefined;
  let value: unknown;
  try {
    value = decode(Buffer.from(id.slice(PREFIX.length), "base64url"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 5) return undefined;
  const [partition, rawId, index, t, nonce] = value as unknown[];
  if (typeof nonce !== "string" || !NONCE.test(nonce)) return undefined;
  const invocationId = parseInvocationId(String(rawId));
  if (!Number.isSafeInteger(partition) || (partition as number) < 0 || !Number.isSafeInteger(index) || (index as number) < 0 || !invocationId) return undefined;
  if (!Array.isArray(t) || !t.every((part) => typeof part === "string")) return undefined;
  const [kind, name = "", handler = "", key] = t as string[];
  if (!NAME.test(name) || !NAME.test(handler)) return undefined;
  let target: Target;
  if (kind === "o" && t.length === 4 && key !== undefined && objectKeyProblem(key) === undefined) target = { type: "object", name, handler, key };
  else if (kind === "s" && t.length === 3) target = { type: "service", name, handler };
  else return undefined;
  return { partition: partition as number, invocationId, target, index: index as number, nonce };
}
