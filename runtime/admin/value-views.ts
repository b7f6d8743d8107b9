import { decode } from "../../sdk/internal.js";
import type { HistoryEntry } from "../store/index.js";
import type { HistoryEntryView, StateChangeView } from "./api.js";

/**
 * A decoded state value made JSON-safe: what state may hold beyond JSON (see `checkPlainData`)
 * becomes a string or a tagged object, so `JSON.stringify` neither throws (a bigint) nor turns it
 * into something else silently (a Uint8Array into an object of indices).
 *
 * bigint → its decimal string; Date → its ISO string; Uint8Array → `{ $bytes: base64 }`;
 * NaN and ±Infinity → their names as strings; a Map (not written by Cairn) → an object.
 */
export function jsonable(value: unknown): unknown {
  switch (typeof value) {
    case "bigint":
      return value.toString();
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "string":
    case "boolean":
      return value;
    case "undefined":
      return null;
    case "object": {
      if (value === null) return null;
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
      if (value instanceof Uint8Array) return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
      if (Array.isArray(value)) return value.map(jsonable);
      const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
      return Object.fromEntries(entries.map(([k, v]: [unknown, unknown]) => [String(k), jsonable(v)]));
    }
    default:
      return String(value);
  }
}

/** A stored value as the admin API shows it; bytes that do not decode say so instead of failing the whole answer. */
export function decodedValue(bytes: Uint8Array): unknown {
  try {
    return jsonable(decode(bytes));
  } catch (error) {
    return { $undecodable: error instanceof Error ? error.message : String(error), bytes: bytes.byteLength };
  }
}

/** A history entry as the admin API (`HistoryEntryView`) shows it: values decoded, JSON-safe. */
export function historyView(entry: HistoryEntry): HistoryEntryView {
  return {
    atMs: entry.atMs,
    invocationId: entry.invocationId,
    handler: entry.handler,
    changes: entry.changes.map(({ name, before, after }) => {
      const change: StateChangeView = { name };
      if (before !== undefined) change.before = decodedValue(before);
      if (after !== undefined) change.after = decodedValue(after);
      return change;
    }),
  };
}
