import { afterEach, describe, expect, it } from "vitest";
import { Store } from "../runtime/store/index.js";
import type { InvocationRecord } from "../runtime/store/index.js";
import { decode, encode, newInvocationId } from "../sdk/internal.js";
import { tempDir } from "./helpers/host.js";

const stores: Store[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

function record(partition: number, expiresAtMs: number, extra: Partial<InvocationRecord> = {}): InvocationRecord {
  return {
    kind: "invocation",
    partition,
    invocationId: newInvocationId(),
    completion: { outcome: { ok: true, value: encode(1) }, expiresAtMs },
    stateWrites: [],
    outbox: [],
    position: 0,
    ...extra,
  };
}

const send = () => ({
  partition: 1,
  envelope: { invocationId: newInvocationId(), target: { type: "service" as const, name: "S", handler: "h" } },
  data: new Uint8Array([1]),
});

describe("Store", () => {
  it("applies a logged entry's records together, and keeps them across reopening", async () => {
    const dir = tempDir();
    const store = new Store(dir);
    const r = record(3, Date.now() + 60_000, {
      stateWrites: [{ type: "set", object: "Cart", key: "u1", name: "items", value: encode(["a"]) }],
      outbox: [send()],
      position: 42,
    });
    const other = record(3, Date.now() + 60_000, { outbox: [send(), send()] });
    expect(await store.applyLogged(3, 17, [r, other])).toEqual([[[3, 17, 0]], [[3, 17, 1], [3, 17, 2]]]);
    await store.close();

    const reopened = new Store(dir);
    stores.push(reopened);
    expect(reopened.readState(3, "Cart", "u1", "items")).toEqual(["a"]);
    const outcome = reopened.readCompletion(3, r.invocationId)?.outcome;
    expect(outcome?.ok && decode(outcome.value)).toBe(1);
    expect(reopened.readOutbox(3).map((o) => o.key)).toEqual([[3, 17, 0], [3, 17, 1], [3, 17, 2]]);
    expect(reopened.readPosition(3)).toBe(42);
    expect(reopened.appliedLogSeq(3)).toBe(17);
    expect(reopened.appliedLogSeq(4)).toBe(0);
    await reopened.removeOutbox([[3, 17, 0], [3, 17, 2]]);
    expect(reopened.readOutbox(3).map((o) => o.key)).toEqual([[3, 17, 1]]);
  });

  it("exports a partition and imports it elsewhere in place of what was there, leaving other partitions alone", async () => {
    const source = new Store(tempDir());
    const target = new Store(tempDir());
    stores.push(source, target);
    const kept = record(2, Date.now() + 60_000, { stateWrites: [{ type: "set", object: "C", key: "k", name: "n", value: encode(7) }], outbox: [send()] });
    await source.applyLogged(2, 5, [kept]);
    await source.applyLogged(3, 6, [record(3, Date.now() + 60_000, { stateWrites: [{ type: "set", object: "C", key: "x", name: "n", value: encode(1) }] })]);
    const stale = record(2, Date.now() + 60_000, { stateWrites: [{ type: "set", object: "C", key: "old", name: "n", value: encode(0) }] });
    await target.applyLogged(2, 3, [stale]);
    await target.applyLogged(1, 4, [record(1, Date.now() + 60_000, { stateWrites: [{ type: "set", object: "C", key: "y", name: "n", value: encode(2) }] })]);

    const snapshot = source.exportPartition(2);
    expect(snapshot.logSeq).toBe(5);
    expect(snapshot.state).toHaveLength(1);
    await target.importPartition(snapshot);
    expect(target.readState(2, "C", "k", "n")).toBe(7);
    expect(target.readState(2, "C", "old", "n")).toBeUndefined();
    expect(target.readCompletion(2, stale.invocationId)).toBeUndefined();
    expect(target.readCompletion(2, kept.invocationId)).toBeDefined();
    expect(target.readOutbox(2).map((o) => o.key)).toEqual([[2, 5, 0]]);
    expect(target.appliedLogSeq(2)).toBe(5);
    expect(target.readState(1, "C", "y", "n")).toBe(2);
    // The stale completion's expiry entry went with it: a sweep finds nothing of partition 2 to drop.
    expect(await target.expireCompletions(Date.now() + 120_000)).toBe(2);
  });

  it("forgets completions once their idempotency window has passed, and only those", async () => {
    const store = new Store(tempDir());
    stores.push(store);
    const now = Date.now();
    const old = record(0, now - 1);
    const fresh = record(0, now + 60_000);
    await store.applyLogged(0, 1, [old, fresh]);
    expect(await store.expireCompletions(now)).toBe(1);
    expect(store.readCompletion(0, old.invocationId)).toBeUndefined();
    expect(store.readCompletion(0, fresh.invocationId)).toBeDefined();
  });

  it("never uses an inbox sequence twice, also after every row was handled and the store reopened", async () => {
    const dir = tempDir();
    const store = new Store(dir, { sync: true, routing: "inbox" });
    const row = { envelope: { invocationId: newInvocationId(), target: { type: "service" as const, name: "S", handler: "h" } }, data: new Uint8Array([1]) };
    const first = store.appendInbox([{ partition: 2, row }, { partition: 2, row }]);
    await first.written;
    expect(first.keys).toEqual([[2, 1], [2, 2]]);
    await store.removeInbox(first.keys);
    await store.close();
    // A reader that got to sequence 2 before the restart looks for rows after it.
    const reopened = new Store(dir, { sync: true, routing: "inbox" });
    stores.push(reopened);
    const next = reopened.appendInbox([{ partition: 2, row }]);
    await next.written;
    expect(next.keys).toEqual([[2, 3]]);
    expect(reopened.readInbox(2, 2, 10).map((r) => r.key)).toEqual([[2, 3]]);
  });

  it("keeps a data dir to the mode that made it, and never clears embedded data of another format", async () => {
    const row = { envelope: { invocationId: newInvocationId(), target: { type: "service" as const, name: "S", handler: "h" } }, data: new Uint8Array([1]) };
    const embeddedDir = tempDir();
    const embedded = new Store(embeddedDir, { sync: true, routing: "inbox" });
    await embedded.appendInbox([{ partition: 0, row }]).written;
    await embedded.close();
    expect(() => new Store(embeddedDir)).toThrow(/belongs to a host in embedded mode; a host in nats mode needs a data dir of its own/);

    const natsDir = tempDir();
    const nats = new Store(natsDir);
    await nats.applyLogged(1, 1, [record(1, Date.now() + 60_000)]);
    await nats.close();
    expect(() => new Store(natsDir, { sync: true, routing: "inbox" })).toThrow(/belongs to a host in nats mode/);

    // An embedded data dir in another format (one a later version wrote, say) is refused and kept.
    const { open } = await import("lmdb");
    const raw = open({ path: embeddedDir, maxDbs: 16 });
    await raw.openDB({ name: "meta" }).put("format", 99);
    await raw.close();
    expect(() => new Store(embeddedDir, { sync: true, routing: "inbox" })).toThrow(/format 99, and this version reads format 5; it is the only copy/);
    const again = open({ path: embeddedDir, maxDbs: 16 });
    expect(again.openDB({ name: "inbox" }).getKeysCount(), "the refused data dir's rows").toBe(1);
    await again.close();
  });

  it("upgrades a format-3 data dir in place, keeping its data: formats 4 and 5 only add the invocations, journal and history tables", async () => {
    const row = { envelope: { invocationId: newInvocationId(), target: { type: "service" as const, name: "S", handler: "h" } }, data: new Uint8Array([1]) };
    const dir = tempDir();
    const first = new Store(dir, { sync: true, routing: "inbox" });
    await first.appendInbox([{ partition: 0, row }]).written;
    await first.close();
    const { open } = await import("lmdb");
    const raw = open({ path: dir, maxDbs: 16 });
    await raw.openDB({ name: "meta" }).put("format", 3);
    await raw.close();
    const upgraded = new Store(dir, { sync: true, routing: "inbox" });
    expect(upgraded.readInbox(0, 0, 10)).toHaveLength(1);
    expect(upgraded.readInvocations(0)).toEqual([]);
    await upgraded.close();
    const check = open({ path: dir, maxDbs: 16 });
    expect(check.openDB({ name: "meta" }).get("format")).toBe(5);
    await check.close();
  });
});
