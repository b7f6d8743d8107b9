import type { JournalEntry } from "./records.js";

/**
 * How much an entry knows of what it waited for: its outcome (or a sleep's end), and when the handler
 * saw it. A wait's entry is written more than once (bare when the wait commits, with its outcome by the
 * complete-entry command, with `at` by the handler that saw it), by commits that may land in any order.
 */
function knowledge(entry: JournalEntry): number {
  switch (entry.type) {
    case "call":
    case "awakeable":
    case "promise":
      return (entry.outcome ? 1 : 0) + (entry.at !== undefined ? 1 : 0);
    case "sleep":
      return entry.wokeAt !== undefined ? 2 : 0;
    default:
      return 0;
  }
}

/** Whether two entries are the same wait (the same callee, awakeable, promise or sleep). */
function sameWait(a: JournalEntry, b: JournalEntry): boolean {
  if (a.type === "call" && b.type === "call") return a.callee === b.callee;
  if (a.type === "awakeable" && b.type === "awakeable") return a.nonce === b.nonce;
  if (a.type === "promise" && b.type === "promise") return a.name === b.name;
  if (a.type === "sleep" && b.type === "sleep") return a.wakeAtMs === b.wakeAtMs;
  return false;
}

/**
 * The entry to keep at an index that holds `existing` when `incoming` is written there: of two
 * versions of the same wait, the one that knows more, so that the order in which they commit does
 * not matter; anything else replaces what was there.
 */
export function mergeEntry(existing: JournalEntry | undefined, incoming: JournalEntry): JournalEntry {
  if (existing === undefined || !sameWait(existing, incoming)) return incoming;
  return knowledge(incoming) >= knowledge(existing) ? incoming : existing;
}
