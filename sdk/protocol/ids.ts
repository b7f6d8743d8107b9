import { createHash, randomBytes } from "node:crypto";

declare const invocationIdBrand: unique symbol;
/** An invocation's id: `inv_` and 26 base32 characters. */
export type InvocationId = string & { readonly [invocationIdBrand]: true };

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const ID_PATTERN = /^inv_[0-9a-hjkmnp-tv-z]{26}$/;

function base32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

function fromBytes(bytes: Uint8Array): InvocationId {
  return `inv_${base32(bytes.subarray(0, 16))}` as InvocationId;
}

/**
 * A hash of several parts, each preceded by its length: no two different lists of parts hash the
 * same way, whatever characters (NUL included) the parts hold.
 */
function framedDigest(...parts: Array<string | Uint8Array>): Uint8Array {
  const hash = createHash("sha256");
  const length = Buffer.alloc(4);
  for (const part of parts) {
    const bytes = typeof part === "string" ? Buffer.from(part, "utf8") : part;
    length.writeUInt32BE(bytes.byteLength);
    hash.update(length).update(bytes);
  }
  return hash.digest();
}

/**
 * The hash behind invocation ids, parts ended by NUL. Kept as it is although a part holding NUL
 * could make two lists hash alike (an object key and an idempotency key both crafted for it): a
 * new hash would give every idempotent call retried across an upgrade a new id, and run it twice.
 * A collision is refused, not answered (a completion answers only for its own target).
 */
function idDigest(...parts: string[]): Uint8Array {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\u0000");
  return hash.digest();
}

/** A fresh random id, for an invocation without an idempotency key. */
export function newInvocationId(): InvocationId {
  return fromBytes(randomBytes(16));
}

/** The id of a call made with an idempotency key: the same for every retry of that call. */
export function idempotentInvocationId(target: string, idempotencyKey: string): InvocationId {
  return fromBytes(idDigest("idem", target, idempotencyKey));
}

/**
 * The one invocation id of a workflow key's `run` (`label`: `Wf/key/run`): whatever id a message to it
 * carries, its partition runs it under this one, so a second run joins or answers the first.
 */
export function workflowRunInvocationId(label: string): InvocationId {
  return idempotentInvocationId(label, "workflow run");
}

/** The id of the `index`-th message a handler sends: the same on every attempt and after a crash. */
export function childInvocationId(parent: InvocationId, index: number): InvocationId {
  return fromBytes(idDigest("child", parent, String(index)));
}

/**
 * JetStream's `Nats-Msg-Id` for a send: it covers the invocation id, the target and the input, so
 * only a copy of the same message is dropped as a duplicate. A message that merely reuses the
 * invocation id (a stray or hostile one) goes through, and the host refuses it if the id is taken.
 */
export function messageDedupId(invocationId: InvocationId, target: string, data: Uint8Array): string {
  return `msg_${base32(framedDigest("msg", invocationId, target, data).subarray(0, 16))}`;
}

export function parseInvocationId(value: string): InvocationId | undefined {
  return ID_PATTERN.test(value) ? (value as InvocationId) : undefined;
}
