import type { Database } from "lmdb";
import { prefixEnd } from "./state-keys.js";

/**
 * The `state` db as the writes of one transaction leave it. Inside an lmdb-js batch, reads see only
 * what is committed, never the batch's own writes; but one transaction may apply many changelog
 * entries (a restore), and a later one must see what an earlier one wrote: a `clearAll` removes
 * the entries they set, and a history entry's before value is the value they left.
 */
export class PendingState {
  private readonly written = new Map<string, { key: Buffer; value: Uint8Array | undefined }>();

  constructor(private readonly db: Database<Uint8Array, Uint8Array>) {}

  get(key: Buffer): Uint8Array | undefined {
    const pending = this.written.get(key.toString("latin1"));
    return pending ? pending.value : this.db.get(key);
  }

  put(key: Buffer, value: Uint8Array): void {
    this.written.set(key.toString("latin1"), { key, value });
    this.db.put(key, value);
  }

  remove(key: Buffer): void {
    this.written.set(key.toString("latin1"), { key, value: undefined });
    this.db.remove(key);
  }

  /** The keys that start with `prefix`, in key order. */
  keysUnder(prefix: Buffer): Buffer[] {
    const keys = new Map<string, Buffer>();
    // Copied: lmdb-js may hand out one buffer for every key of an iteration.
    for (const k of this.db.getKeys({ start: prefix, end: prefixEnd(prefix) })) {
      const key = Buffer.from(k);
      keys.set(key.toString("latin1"), key);
    }
    for (const [id, { key, value }] of this.written) {
      if (!startsWith(key, prefix)) continue;
      if (value === undefined) keys.delete(id);
      else keys.set(id, key);
    }
    return [...keys.values()].sort(Buffer.compare);
  }
}

export function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  return key.length >= prefix.length && Buffer.compare(key.subarray(0, prefix.length), prefix) === 0;
}
