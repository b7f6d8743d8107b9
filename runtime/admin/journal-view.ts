import { parseTargetLabel } from "../../sdk/internal.js";
import type { InvocationRow, JournalEntry, Outcome } from "../store/index.js";
import { decodedValue } from "./value-views.js";
import type { JournalEntryView, LiveStatus, TargetView } from "./api.js";

type OutcomeView = JournalEntryView["outcome"];

/** A target label (`Name/key/handler`, `Name/handler`: see `targetLabel`) as a view: names and handlers hold no `/`, keys may. */
export function targetFromLabel(label: string): TargetView {
  const target = parseTargetLabel(label);
  if (!target) return { object: label, handler: "" };
  return target.type === "object" ? { object: target.name, key: target.key, handler: target.handler } : { object: target.name, handler: target.handler };
}

/** Msgpack bytes as a JSON-able value; an empty buffer is `undefined` (how `run` records it), undecodable bytes say so. */
export function decodeValue(bytes: Uint8Array): unknown {
  return bytes.byteLength === 0 ? null : decodedValue(bytes);
}

function outcomeView(outcome: Outcome | undefined): OutcomeView {
  if (outcome === undefined) return "pending";
  return outcome.ok ? { ok: true, value: decodeValue(outcome.value) } : { ok: false, error: `${outcome.error.name}: ${outcome.error.message}` };
}

/** One journal entry as the admin API shows it. */
export function journalEntryView(index: number, entry: JournalEntry): JournalEntryView {
  switch (entry.type) {
    case "run":
      return { index, type: entry.type, name: entry.name, outcome: outcomeView(entry.outcome) };
    case "get":
      return { index, type: entry.type, name: entry.name, outcome: { ok: true, value: entry.value === null ? null : decodeValue(entry.value) } };
    case "state-keys":
      return { index, type: entry.type, outcome: { ok: true, value: entry.names } };
    case "set":
    case "clear":
      return { index, type: entry.type, name: entry.name };
    case "clear-all":
      return { index, type: entry.type };
    case "send":
      return { index, type: entry.type, name: entry.target };
    case "sleep":
      return { index, type: entry.type, wakeAtMs: entry.wakeAtMs, outcome: entry.wokeAt === undefined ? "pending" : { ok: true, value: null } };
    case "now":
      return { index, type: entry.type, outcome: { ok: true, value: entry.value } };
    case "call":
      return { index, type: entry.type, name: entry.target, outcome: outcomeView(entry.outcome) };
    case "awakeable":
      return { index, type: entry.type, outcome: outcomeView(entry.outcome) };
    case "promise":
      return { index, type: entry.type, name: entry.name, outcome: outcomeView(entry.outcome) };
    case "promise-peek":
      return { index, type: entry.type, name: entry.name, outcome: entry.outcome === null ? { ok: true, value: null } : outcomeView(entry.outcome) };
    case "promise-complete":
      return { index, type: entry.type, name: entry.name };
    default: {
      const unknownEntry: never = entry;
      throw new Error(`unknown journal entry ${JSON.stringify(unknownEntry)}`);
    }
  }
}

/** A journal in index order, as views. */
export function journalView(journal: ReadonlyMap<number, JournalEntry>): JournalEntryView[] {
  return [...journal].sort(([a], [b]) => a - b).map(([index, entry]) => journalEntryView(index, entry));
}

/** What a live invocation waits on, in words, or `undefined` when it runs. */
export function waitingOn(status: LiveStatus, row: Pick<InvocationRow, "wakeAtMs" | "nextAttemptAtMs"> | undefined, journal: ReadonlyMap<number, JournalEntry>): string | undefined {
  switch (status) {
    case "queued":
      return "its key: an earlier invocation of the key holds it";
    case "backing-off":
      return row?.nextAttemptAtMs === undefined ? "its next attempt" : `retry at ${new Date(row.nextAttemptAtMs).toISOString()}`;
    case "paused":
      return "resume or kill";
    case "running":
      return undefined;
    case "suspended":
      return pendingWait(journal, row?.wakeAtMs);
    default: {
      const unknownStatus: never = status;
      throw new Error(`unknown status ${String(unknownStatus)}`);
    }
  }
}

/** The last wait of a suspended invocation's journal that has no outcome. */
function pendingWait(journal: ReadonlyMap<number, JournalEntry>, wakeAtMs: number | undefined): string | undefined {
  const entries = [...journal].sort(([a], [b]) => b - a);
  for (const [, entry] of entries) {
    switch (entry.type) {
      case "sleep":
        if (entry.wokeAt === undefined) return `sleep until ${new Date(entry.wakeAtMs).toISOString()}`;
        break;
      case "call":
        if (!entry.outcome) return `call ${entry.target} (${entry.callee})`;
        break;
      case "awakeable":
        if (!entry.outcome) return "awakeable";
        break;
      case "promise":
        if (!entry.outcome) return `promise ${entry.name}`;
        break;
      default:
        break;
    }
  }
  return wakeAtMs === undefined ? undefined : `sleep until ${new Date(wakeAtMs).toISOString()}`;
}
