import { afterEach, describe, expect, it } from "vitest";
import { Store } from "../runtime/store/index.js";
import { historyView } from "../runtime/admin/index.js";
import type { HistoryEntry, InvocationRecord, ProgressRecord, StateWrite } from "../runtime/store/index.js";
import { decode, encode, newInvocationId } from "../sdk/internal.js";
import { tempDir } from "./helpers/host.js";

const stores: Store[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

function record(extra: Partial<InvocationRecord> = {}): InvocationRecord {
  return {
    kind: "invocation",
    partition: 0,
    invocationId: newInvocationId(),
    completion: { outcome: { ok: true, value: encode(1) }, expiresAtMs: Date.now() + 60_000 },
    stateWrites: [],
    outbox: [],
    position: 0,
    ...extra,
  };
}

describe("Store: entries applied together", () => {
  it("a clearAll sees the entries an earlier entry of the same apply set (a restore replays many entries in one transaction)", async () => {
    const store = new Store(tempDir());
    stores.push(store);
    const set = record({ stateWrites: [{ type: "set", object: "C", key: "k", name: "n", value: encode(1) }] });
    const clear = record({ stateWrites: [{ type: "clearAll", object: "C", key: "k" }] });
    await store.applyEntries(0, [
      { logSeq: 1, records: [set] },
      { logSeq: 2, records: [clear] },
    ]);
    expect(store.readState(0, "C", "k", "n")).toBeUndefined();
    expect(store.readStateNames(0, "C", "k")).toEqual([]);
  });
});

const T0 = 1_700_000_000_000;
const set = (name: string, value: unknown, key = "k"): StateWrite => ({ type: "set", object: "C", key, name, value: encode(value) });
const del = (name: string, key = "k"): StateWrite => ({ type: "delete", object: "C", key, name });
const clearAll = (key = "k"): StateWrite => ({ type: "clearAll", object: "C", key });

/** A completion that writes state, as the processor builds it: with its time and handler. */
function commit(atMs: number, stateWrites: StateWrite[], handler = "C.h"): InvocationRecord {
  return record({ stateWrites, atMs, handler });
}

function progress(atMs: number, stateWrites: StateWrite[]): ProgressRecord {
  const invocationId = newInvocationId();
  return {
    kind: "progress",
    partition: 0,
    invocationId,
    row: { seq: 1, envelope: { invocationId, target: { type: "object", name: "C", key: "k", handler: "step" } }, data: encode(null), status: "running", failedAttempts: 0 },
    journal: [],
    stateWrites,
    outbox: [],
    position: 0,
    atMs,
    handler: "C.step",
  };
}

/** A key's history as values: [handler, atMs, { name: [before, after] }], newest first. */
function readable(entries: HistoryEntry[]): Array<[string, number, Record<string, [unknown, unknown]>]> {
  return entries.map((e) => [
    e.handler,
    e.atMs,
    Object.fromEntries(e.changes.map((c) => [c.name, [c.before && decode(c.before), c.after && decode(c.after)]])),
  ]);
}

function open(history?: { retentionMs: number; entriesPerKey: number }, dir = tempDir()): Store {
  const store = new Store(dir, history ? { history } : {});
  stores.push(store);
  return store;
}

describe("Store: state history", () => {
  it("records each commit's changes per key, newest first, with before values read from the store", async () => {
    const store = open();
    const first = commit(T0, [set("a", 1), set("b", 2)]);
    await store.applyLogged(0, 1, [first]);
    await store.applyLogged(0, 2, [progress(T0 + 1, [set("a", 10), del("b"), del("never")])]);
    await store.applyLogged(0, 3, [commit(T0 + 2, [clearAll(), set("c", 3)], "C.reset")]);
    // A delete of nothing and a clearAll of nothing change nothing: no entry.
    await store.applyLogged(0, 4, [commit(T0 + 3, [del("zzz"), clearAll("other")])]);
    expect(readable(store.readHistory(0, "C", "k", 10))).toEqual([
      ["C.reset", T0 + 2, { a: [10, undefined], c: [undefined, 3] }],
      ["C.step", T0 + 1, { a: [1, 10], b: [2, undefined] }],
      ["C.h", T0, { a: [undefined, 1], b: [undefined, 2] }],
    ]);
    expect(store.readHistory(0, "C", "k", 10)[2]?.invocationId).toBe(first.invocationId);
    expect(store.readHistory(0, "C", "k", 2)).toHaveLength(2);
    expect(store.readHistory(0, "C", "other", 10)).toEqual([]);
  });

  it("makes one entry per key a commit wrote, and none for records written before history (no time, no handler)", async () => {
    const store = open();
    await store.applyLogged(0, 1, [commit(T0, [set("n", 1, "x"), set("n", 2, "y")])]);
    await store.applyLogged(0, 2, [record({ stateWrites: [set("n", 3, "x")] })]);
    expect(readable(store.readHistory(0, "C", "x", 10))).toEqual([["C.h", T0, { n: [undefined, 1] }]]);
    expect(readable(store.readHistory(0, "C", "y", 10))).toEqual([["C.h", T0, { n: [undefined, 2] }]]);
    // The older record still changed the state the next entry starts from.
    await store.applyLogged(0, 3, [commit(T0 + 1, [set("n", 4, "x")])]);
    expect(readable(store.readHistory(0, "C", "x", 1))).toEqual([["C.h", T0 + 1, { n: [3, 4] }]]);
  });

  it("a restore that applies many entries in one transaction makes the same history as applying them one by one", async () => {
    const entries = [
      { logSeq: 1, records: [commit(T0, [set("a", 1)])] },
      { logSeq: 2, records: [commit(T0 + 1, [set("a", 2), set("b", 1)])] },
      { logSeq: 3, records: [commit(T0 + 2, [clearAll()]), commit(T0 + 2, [set("a", 3, "k2")])] },
      { logSeq: 4, records: [commit(T0 + 3, [set("a", 4)])] },
    ];
    const oneByOne = open();
    for (const { logSeq, records } of entries) await oneByOne.applyLogged(0, logSeq, records);
    const together = open();
    await together.applyEntries(0, entries);
    for (const key of ["k", "k2"]) expect(together.readHistory(0, "C", key, 10)).toEqual(oneByOne.readHistory(0, "C", key, 10));
    expect(readable(together.readHistory(0, "C", "k", 10))).toEqual([
      ["C.h", T0 + 3, { a: [undefined, 4] }],
      ["C.h", T0 + 2, { a: [2, undefined], b: [1, undefined] }],
      ["C.h", T0 + 1, { a: [1, 2], b: [undefined, 1] }],
      ["C.h", T0, { a: [undefined, 1] }],
    ]);
  });

  it("keeps the newest entries per key up to the bound, and drops entries past the retention window when the key is written", async () => {
    const store = open({ retentionMs: 60_000, entriesPerKey: 3 });
    for (let i = 1; i <= 5; i++) await store.applyLogged(0, i, [commit(T0 + i, [set("n", i)])]);
    // Five in one transaction too: the bound holds inside it.
    await store.applyEntries(0, [6, 7, 8, 9, 10].map((i) => ({ logSeq: i, records: [commit(T0 + i, [set("n", i)])] })));
    expect(readable(store.readHistory(0, "C", "k", 10)).map(([, at]) => at - T0)).toEqual([10, 9, 8]);
    await store.applyLogged(0, 11, [commit(T0 + 9 + 60_000, [set("n", 11)])]);
    // T0 + 8 is past the window now; T0 + 9 is at its edge and kept.
    expect(readable(store.readHistory(0, "C", "k", 10)).map(([, at]) => at - T0)).toEqual([9 + 60_000, 10, 9]);
    // Nothing is left behind in the age index: the sweep finds only what is still there.
    expect(await store.expireHistory(T0 + 10 * 60_000)).toBe(3);
  });

  it("keeps no history when the bound is 0", async () => {
    const store = open({ retentionMs: 60_000, entriesPerKey: 0 });
    await store.applyLogged(0, 1, [commit(T0, [set("n", 1)])]);
    expect(store.readHistory(0, "C", "k", 10)).toEqual([]);
    expect(store.readState(0, "C", "k", "n")).toBe(1);
  });

  it("the sweep drops entries past the retention window of every key, and only those", async () => {
    const store = open({ retentionMs: 1000, entriesPerKey: 100 });
    await store.applyLogged(0, 1, [commit(T0, [set("n", 1, "old")])]);
    await store.applyLogged(1, 1, [record({ partition: 1, stateWrites: [set("n", 1, "elsewhere")], atMs: T0, handler: "C.h" })]);
    await store.applyLogged(0, 2, [commit(T0 + 500, [set("n", 1, "mixed")])]);
    await store.applyLogged(0, 3, [commit(T0 + 1500, [set("n", 2, "mixed")])]);
    expect(await store.expireHistory(T0 + 1000)).toBe(0);
    expect(await store.expireHistory(T0 + 2000)).toBe(3);
    expect(store.readHistory(0, "C", "old", 10)).toEqual([]);
    expect(store.readHistory(1, "C", "elsewhere", 10)).toEqual([]);
    expect(readable(store.readHistory(0, "C", "mixed", 10))).toEqual([["C.h", T0 + 1500, { n: [1, 2] }]]);
  });

  it("a snapshot carries the partition's history, and importing it replaces what was there", async () => {
    const source = open();
    const target = open();
    await source.applyLogged(2, 1, [record({ partition: 2, stateWrites: [set("n", 1)], atMs: T0, handler: "C.h" })]);
    await source.applyLogged(2, 2, [record({ partition: 2, stateWrites: [set("n", 2)], atMs: T0 + 1, handler: "C.h" })]);
    await target.applyLogged(2, 1, [record({ partition: 2, stateWrites: [set("n", 9, "stale")], atMs: T0, handler: "C.h" })]);
    await target.applyLogged(3, 1, [record({ partition: 3, stateWrites: [set("n", 7)], atMs: T0, handler: "C.h" })]);
    const snapshot = source.exportPartition(2);
    expect(snapshot.history?.map(([object, key, logSeq, index]) => [object, key, logSeq, index])).toEqual([
      ["C", "k", 1, 0],
      ["C", "k", 2, 0],
    ]);
    // Through the bytes a snapshot is stored as.
    await target.importPartition(decode(encode(snapshot)) as typeof snapshot);
    expect(target.readHistory(2, "C", "k", 10)).toEqual(source.readHistory(2, "C", "k", 10));
    expect(target.readHistory(2, "C", "stale", 10)).toEqual([]);
    expect(readable(target.readHistory(3, "C", "k", 10))).toEqual([["C.h", T0, { n: [undefined, 7] }]]);
    // The stale key's age entry went with it.
    expect(await target.expireHistory(T0 + 10 * 86_400_000)).toBe(3);
    // The next commit continues from the imported values.
    await target.applyLogged(2, 3, [record({ partition: 2, stateWrites: [set("n", 3)], atMs: T0 + 2, handler: "C.h" })]);
    expect(readable(target.readHistory(2, "C", "k", 1))).toEqual([["C.h", T0 + 2, { n: [2, 3] }]]);
  });

  it("shows an entry's values decoded and JSON-safe", async () => {
    const store = open();
    const value = { big: 2n ** 62n, at: new Date(T0), bytes: new Uint8Array([1, 2, 255]), list: [1, "x", null] };
    await store.applyLogged(0, 1, [commit(T0, [set("v", value)])]);
    const [entry] = store.readHistory(0, "C", "k", 1);
    if (!entry) throw new Error("no history entry");
    const view = historyView(entry);
    expect(view).toEqual({
      atMs: T0,
      invocationId: entry.invocationId,
      handler: "C.h",
      changes: [{ name: "v", after: { big: "4611686018427387904", at: new Date(T0).toISOString(), bytes: { $bytes: "AQL/" }, list: [1, "x", null] } }],
    });
    expect(JSON.parse(JSON.stringify(view))).toEqual(view);
  });

  it("upgrades a format-4 data dir in place: format 5 only adds the history tables", async () => {
    const dir = tempDir();
    const first = new Store(dir);
    await first.applyLogged(0, 1, [commit(T0, [set("n", 1)])]);
    await first.close();
    const { open: openLmdb } = await import("lmdb");
    const raw = openLmdb({ path: dir, maxDbs: 16 });
    await raw.openDB({ name: "meta" }).put("format", 4);
    await raw.close();
    const upgraded = open(undefined, dir);
    expect(upgraded.readState(0, "C", "k", "n")).toBe(1);
    expect(upgraded.appliedLogSeq(0)).toBe(1);
    // History starts at the upgrade: the next commit's before value is the state kept.
    await upgraded.applyLogged(0, 2, [commit(T0 + 1, [set("n", 2)])]);
    expect(readable(upgraded.readHistory(0, "C", "k", 10))).toEqual([["C.h", T0 + 1, { n: [1, 2] }], ["C.h", T0, { n: [undefined, 1] }]]);
    await upgraded.close();
    stores.splice(stores.indexOf(upgraded), 1);
    const check = openLmdb({ path: dir, maxDbs: 16 });
    expect(check.openDB({ name: "meta" }).get("format")).toBe(5);
    await check.close();
  });
});
