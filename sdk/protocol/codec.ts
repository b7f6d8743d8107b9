import { Packr } from "msgpackr";

// Records (shared structures) are off: every message must decode on its own, in any process.
const packr = new Packr({ useRecords: false, moreTypes: false });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes msgpack bytes; throws on bytes that are not one whole msgpack value. */
export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
