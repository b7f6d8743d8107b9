import { loneSurrogateIndex } from "../../sdk/internal.js";
import { StateKeyError } from "../errors.js";

/**
 * The binary keys of the `state` db: the partition as 4 bytes big-endian, then the object name, the
 * object key and the state name, each as its UTF-8 bytes after a 2-byte big-endian length.
 *
 * The length prefixes make the encoding injective and prefix-free per part, whatever bytes a part
 * holds (lmdb-js's array keys separate strings with NUL and do not escape it in long strings, so
 * `"victim\0…"` sorted inside `victim`'s range). So the keys starting with the bytes of
 * `(partition, object, key)` are exactly that key's entries, and a partition's keys are one
 * contiguous range. UTF-8 is injective only for well-formed strings: a lone surrogate would become
 * U+FFFD, so encoding one throws instead (the client, `ctx` and the host refuse them first).
 */

/** Where one state entry lives. */
export interface StateKey {
  partition: number;
  object: string;
  key: string;
  name: string;
}

const PARTITION_BYTES = 4;
const LENGTH_BYTES = 2;
const MAX_PART_BYTES = 0xffff;
// ignoreBOM: a name that starts with U+FEFF keeps it.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function utf8Part(what: string, text: string): Buffer {
  const lone = loneSurrogateIndex(text);
  if (lone >= 0) throw new StateKeyError(`the ${what} holds a lone surrogate at index ${lone} and has no UTF-8 form`);
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > MAX_PART_BYTES) throw new StateKeyError(`the ${what} is over ${MAX_PART_BYTES} bytes`);
  return bytes;
}

function build(partition: number, parts: Array<[what: string, text: string]>): Buffer {
  if (!Number.isInteger(partition) || partition < 0 || partition > 0xffffffff) throw new StateKeyError(`partition ${partition} is not a 32-bit unsigned integer`);
  const encoded = parts.map(([what, text]) => utf8Part(what, text));
  const out = Buffer.allocUnsafe(PARTITION_BYTES + encoded.reduce((sum, bytes) => sum + LENGTH_BYTES + bytes.length, 0));
  out.writeUInt32BE(partition, 0);
  let at = PARTITION_BYTES;
  for (const bytes of encoded) {
    out.writeUInt16BE(bytes.length, at);
    bytes.copy(out, at + LENGTH_BYTES);
    at += LENGTH_BYTES + bytes.length;
  }
  return out;
}

/** The db key of one state entry. Throws a {@link StateKeyError} for a string that is not well-formed. */
export function encodeStateKey({ partition, object, key, name }: StateKey): Buffer {
  return build(partition, [
    ["object name", object],
    ["object key", key],
    ["state name", name],
  ]);
}

/** The first key of every entry of one object key: its prefix. */
export function objectKeyPrefix(partition: number, object: string, key: string): Buffer {
  return build(partition, [
    ["object name", object],
    ["object key", key],
  ]);
}

/** The first key of a partition's entries; the range ends where partition + 1 starts. */
export function partitionPrefix(partition: number): Buffer {
  return build(partition, []);
}

/**
 * The smallest key greater than every key that starts with `prefix`: the exclusive end of a prefix
 * range (the last byte below 0xFF incremented, the rest dropped).
 */
export function prefixEnd(prefix: Uint8Array): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const byte = prefix[i] as number;
    if (byte < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i] = byte + 1;
      return end;
    }
  }
  throw new StateKeyError("a prefix of 0xFF bytes only has no end");
}

/** Reads the length-prefixed parts of a key after its partition, in order. */
function partReader(bytes: Uint8Array): { partition: number; part: () => string; at: () => number; buffer: Buffer } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < PARTITION_BYTES) throw new StateKeyError(`a state key of ${buffer.length} bytes is too short`);
  let at = PARTITION_BYTES;
  const part = (): string => {
    if (at + LENGTH_BYTES > buffer.length) throw new StateKeyError("a state key ends inside a length");
    const length = buffer.readUInt16BE(at);
    const start = at + LENGTH_BYTES;
    at = start + length;
    if (at > buffer.length) throw new StateKeyError("a state key ends inside a part");
    try {
      return strictUtf8.decode(buffer.subarray(start, at));
    } catch (error) {
      throw new StateKeyError("a state key holds bytes that are not UTF-8", { cause: error });
    }
  };
  return { partition: buffer.readUInt32BE(0), part, at: () => at, buffer };
}

/** The entry a db key names; throws a {@link StateKeyError} for bytes that no {@link encodeStateKey} produced. */
export function decodeStateKey(bytes: Uint8Array): StateKey {
  const reader = partReader(bytes);
  const key = { partition: reader.partition, object: reader.part(), key: reader.part(), name: reader.part() };
  const at = reader.at();
  if (at !== reader.buffer.length) throw new StateKeyError(`a state key has ${reader.buffer.length - at} bytes after its state name`);
  return key;
}

/**
 * The object key a key built on {@link objectKeyPrefix} starts with, and where that prefix ends
 * (the `history` db's keys go on after it).
 */
export function decodeObjectKeyPrefix(bytes: Uint8Array): { partition: number; object: string; key: string; prefixBytes: number } {
  const reader = partReader(bytes);
  const object = reader.part();
  const key = reader.part();
  return { partition: reader.partition, object, key, prefixBytes: reader.at() };
}
