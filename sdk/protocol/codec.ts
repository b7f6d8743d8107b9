import { Packr } from "msgpackr";
import { describeThrown } from "../describe-thrown.js";
import { TerminalError } from "../errors.js";
import { checkPlainData } from "./plain-data.js";

// Records (shared structures) are off: every message must decode on its own, in any process.
const packr = new Packr({ useRecords: false, moreTypes: false });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/**
 * Encodes a user's value (a result, a state entry, a send's input), refusing with a
 * `TerminalError` anything msgpack would drop or change; see `checkPlainData` for `what` and `root`.
 */
export function encodeData(value: unknown, what: string, root: string, errorCode?: number): Uint8Array {
  checkPlainData(value, what, root, errorCode);
  try {
    return packr.pack(value);
  } catch (error) {
    // Checked data can still fail here: a getter that throws only on its second read, say.
    throw new TerminalError(`${what} cannot be encoded with msgpack (${describeThrown(error).message})`, { errorCode, cause: error });
  }
}

/** Decodes msgpack bytes; throws on bytes that are not one whole msgpack value. */
export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
