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

function digest(...parts: string[]): Uint8Array {
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
  return fromBytes(digest("idem", target, idempotencyKey));
}

/** The id of the `index`-th message a handler sends: the same on every attempt and after a crash. */
export function childInvocationId(parent: InvocationId, index: number): InvocationId {
  return fromBytes(digest("child", parent, String(index)));
}

export function parseInvocationId(value: string): InvocationId | undefined {
  return ID_PATTERN.test(value) ? (value as InvocationId) : undefined;
}
