import { partitionOf, targetLabel } from "../../sdk/internal.js";
import type { Registry } from "../invoke/index.js";
import type { LiveInvocationView, PartitionLease } from "../partition/index.js";
import type { CompletionRecord, InvocationRow, Store } from "../store/index.js";
import { historyView } from "./value-views.js";
import type {
  HistoryEntryView,
  HealthView,
  InvocationDetail,
  InvocationFilter,
  InvocationStatusName,
  InvocationSummary,
  PartitionView,
  ServiceView,
  StateView,
  TimerView,
} from "./api.js";
import { decodeValue, journalView, targetFromLabel, waitingOn } from "./journal-view.js";

/** Per-partition figures only the transport knows: its inbox backlog, and its changelog's length since the last snapshot. */
export interface TransportStats {
  inboxBacklog: number;
  changelogLength: number;
}

/** Where the host stands, as `/health` tells it. */
export type Readiness = HealthView["status"];

/** What the inspector reads from the host. */
export interface InspectorDeps {
  hostId: string;
  mode: HealthView["mode"];
  partitions: number;
  store: Store;
  registry: Registry;
  owned(): number[];
  assignment(): Promise<PartitionLease[]>;
  /** The live invocations one owned partition holds in memory (none when it has no processor now). */
  live(partition: number): LiveInvocationView[];
  stats(partitions: readonly number[]): Promise<Map<number, TransportStats>>;
  readiness(): Readiness;
}

/** The queries the admin API answers: over HTTP (server.ts) and over NATS (every host for its own partitions). */
/** State history is off on this host (`historyEntriesPerKey: 0`, the default). */
export class HistoryOffError extends Error {
  override name = "HistoryOffError";
}

export interface AdminSource {
  health(): HealthView;
  services(): ServiceView[];
  invocations(filter: InvocationFilter): InvocationSummary[];
  invocation(id: string): InvocationDetail | undefined;
  state(object: string, key: string, page: { offset: number; limit: number }): StateView | undefined;
  /** The key's history, newest first, when this host owns its partition; `HistoryOffError` when it keeps none. */
  history(object: string, key: string, limit: number): HistoryEntryView[] | undefined;
  timers(filter: { object?: string; key?: string }): TimerView[];
  partitions(): Promise<PartitionView[]>;
}

export const DEFAULT_INVOCATION_LIMIT = 100;
export const DEFAULT_STATE_LIMIT = 100;
/** History entries a query answers unless it asks for another number. */
export const DEFAULT_HISTORY_LIMIT = 50;

/** One live invocation of a partition: its row (if it has one) and what the processor holds. */
interface LiveEntry {
  partition: number;
  invocationId: string;
  row: InvocationRow | undefined;
  memory: LiveInvocationView | undefined;
}

/**
 * Reads what the admin API shows from the partitions this host owns: rows, journals, completions,
 * state and timers from the store, and the invocations that run without a row from the processors.
 * Reads only; synchronous where the store is.
 */
export class Inspector implements AdminSource {
  constructor(private readonly deps: InspectorDeps) {}

  health(): HealthView {
    const { hostId, mode, partitions } = this.deps;
    return { status: this.deps.readiness(), hostId, mode, ownedPartitions: this.deps.owned().length, partitions };
  }

  services(): ServiceView[] {
    return this.deps.registry.describe().map((served) => ({ ...served, hosts: [this.deps.hostId] }));
  }

  /** Live invocations first (by partition, then acceptance), then ended ones, latest first. */
  invocations(filter: InvocationFilter): InvocationSummary[] {
    const limit = filter.limit ?? DEFAULT_INVOCATION_LIMIT;
    const matches = (summary: InvocationSummary) =>
      (filter.status === undefined || summary.status === filter.status) &&
      (filter.object === undefined || summary.target.object === filter.object) &&
      (filter.key === undefined || summary.target.key === filter.key);
    const out: InvocationSummary[] = [];
    if (filter.status !== "failed" && filter.status !== "succeeded") {
      for (const entry of this.liveEntries()) {
        const summary = this.summary(entry);
        if (!matches(summary)) continue;
        out.push(summary);
        if (out.length >= limit) return out;
      }
    }
    if (filter.status === undefined || filter.status === "failed" || filter.status === "succeeded") {
      const owned = new Set(this.deps.owned());
      const ended = this.deps.store.recentCompletions(owned, limit - out.length, (record) => matches(endedSummary(0, "", record)));
      for (const { partition, invocationId, record } of ended) out.push(endedSummary(partition, invocationId, record));
    }
    return out;
  }

  invocation(id: string): InvocationDetail | undefined {
    for (const entry of this.liveEntries()) {
      if (entry.invocationId !== id) continue;
      const summary = this.summary(entry);
      const journal = entry.row ? this.deps.store.readJournal(entry.partition, id) : (entry.memory?.journal ?? new Map());
      const detail: InvocationDetail = { ...summary, journal: journalView(journal) };
      const status = summary.status;
      if (status !== "failed" && status !== "succeeded") {
        const waits = waitingOn(status, entry.row, journal);
        if (waits !== undefined) detail.waitingOn = waits;
      }
      return detail;
    }
    for (const partition of this.deps.owned()) {
      const record = this.deps.store.readCompletion(partition, id);
      if (record) return { ...endedSummary(partition, id, record), journal: [] };
    }
    return undefined;
  }

  /** The key's state, when this host owns its partition. */
  state(object: string, key: string, page: { offset: number; limit: number }): StateView | undefined {
    const partition = partitionOf(object, key, this.deps.partitions);
    if (!this.deps.owned().includes(partition)) return undefined;
    const { store } = this.deps;
    const names = store.readStateNames(partition, object, key);
    const entries = names.slice(page.offset, page.offset + page.limit).map((name) => {
      const bytes = store.readStateBytes(partition, object, key, name) ?? new Uint8Array();
      return { name, value: decodeValue(bytes), bytes: bytes.byteLength };
    });
    return { object, key, partition, entries, total: names.length };
  }

  history(object: string, key: string, limit: number): HistoryEntryView[] | undefined {
    if (!this.deps.store.historyKept) throw new HistoryOffError(`state history is not kept on host ${this.deps.hostId}: start it with historyEntriesPerKey > 0 (\`cairn start\` keeps 100)`);
    const partition = partitionOf(object, key, this.deps.partitions);
    if (!this.deps.owned().includes(partition)) return undefined;
    return this.deps.store.readHistory(partition, object, key, limit).map(historyView);
  }

  /** Delayed sends, durable sleeps and retry backoffs, by due time. */
  timers(filter: { object?: string; key?: string }): TimerView[] {
    const out: TimerView[] = [];
    const { store } = this.deps;
    for (const partition of this.deps.owned()) {
      for (const timer of store.readTimers(partition)) {
        out.push({ partition, dueMs: timer.dueMs, kind: "send", invocationId: timer.id, target: targetFromLabel(targetLabel(timer.send.envelope.target)) });
      }
      for (const { invocationId, row } of store.readInvocations(partition)) {
        const target = targetFromLabel(targetLabel(row.envelope.target));
        if (row.status === "backing-off" && row.nextAttemptAtMs !== undefined) out.push({ partition, dueMs: row.nextAttemptAtMs, kind: "retry", invocationId, target });
        else if (row.status === "suspended" && row.wakeAtMs !== undefined) out.push({ partition, dueMs: row.wakeAtMs, kind: "sleep", invocationId, target });
      }
    }
    return out
      .filter(({ target }) => (filter.object === undefined || target.object === filter.object) && (filter.key === undefined || target.key === filter.key))
      .sort((a, b) => a.dueMs - b.dueMs);
  }

  /** The partitions this host owns (a NATS reader merges every host's). */
  async partitions(): Promise<PartitionView[]> {
    const owned = this.deps.owned().sort((a, b) => a - b);
    const [leases, stats] = await Promise.all([this.deps.assignment(), this.deps.stats(owned)]);
    const lease = new Map(leases.map((l) => [l.partition, l]));
    const timers = new Map<number, number>();
    for (const timer of this.timers({})) timers.set(timer.partition, (timers.get(timer.partition) ?? 0) + 1);
    const live = new Map<number, number>();
    for (const entry of this.liveEntries()) live.set(entry.partition, (live.get(entry.partition) ?? 0) + 1);
    return owned.map((partition) => {
      const held = lease.get(partition);
      const figures = stats.get(partition);
      return {
        partition,
        owner: held?.hostId ?? this.deps.hostId,
        ...(held ? { epoch: held.epoch } : {}),
        inboxBacklog: figures?.inboxBacklog ?? 0,
        outboxBacklog: this.deps.store.countOutbox(partition),
        timers: timers.get(partition) ?? 0,
        invocations: live.get(partition) ?? 0,
        changelogLength: figures?.changelogLength ?? 0,
      };
    });
  }

  /** Live invocations by status, over the owned partitions: the metrics' gauge. */
  countByStatus(): Map<InvocationStatusName, number> {
    const counts = new Map<InvocationStatusName, number>();
    for (const entry of this.liveEntries()) {
      const status = statusOf(entry);
      counts.set(status, (counts.get(status) ?? 0) + 1);
    }
    return counts;
  }

  /** Rows of the owned partitions, and invocations held in memory only, in acceptance order per partition. */
  private *liveEntries(): Generator<LiveEntry> {
    const { store } = this.deps;
    for (const partition of [...this.deps.owned()].sort((a, b) => a - b)) {
      const memory = new Map(this.deps.live(partition).map((view) => [view.invocationId, view]));
      const rows = store.readInvocations(partition).sort((a, b) => a.row.seq - b.row.seq);
      for (const { invocationId, row } of rows) {
        yield { partition, invocationId, row, memory: memory.get(invocationId) };
        memory.delete(invocationId);
      }
      for (const view of memory.values()) yield { partition, invocationId: view.invocationId, row: undefined, memory: view };
    }
  }

  private summary(entry: LiveEntry): InvocationSummary {
    const { row, memory } = entry;
    const envelope = row?.envelope ?? memory?.envelope;
    const summary: InvocationSummary = {
      id: entry.invocationId,
      target: envelope ? targetFromLabel(targetLabel(envelope.target)) : { object: "?", handler: "?" },
      status: statusOf(entry),
      partition: entry.partition,
      failedAttempts: Math.max(row?.failedAttempts ?? 0, memory?.failedAttempts ?? 0),
    };
    if (row?.lastError !== undefined) summary.lastError = row.lastError;
    if (row?.nextAttemptAtMs !== undefined && row.status === "backing-off") summary.nextAttemptAtMs = row.nextAttemptAtMs;
    if (row?.wakeAtMs !== undefined && row.status === "suspended") summary.wakeAtMs = row.wakeAtMs;
    return summary;
  }
}

/** A row's status (`paused` passes through once rows have it), or `running` for one held in memory only. */
function statusOf(entry: LiveEntry): InvocationStatusName {
  return entry.row ? entry.row.status : "running";
}

function endedSummary(partition: number, invocationId: string, record: CompletionRecord): InvocationSummary {
  const summary: InvocationSummary = {
    id: invocationId,
    target: record.target ? targetFromLabel(record.target) : { object: "?", handler: "?" },
    status: record.outcome.ok ? "succeeded" : "failed",
    partition,
    failedAttempts: 0,
  };
  if (!record.outcome.ok) summary.lastError = `${record.outcome.error.name}: ${record.outcome.error.message}`;
  return summary;
}
