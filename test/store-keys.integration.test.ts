import { Writable } from "node:stream";
import fc from "fast-check";
import { open } from "lmdb";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { Store } from "../runtime/store/index.js";
import type { InvocationRecord, PartitionSnapshot, StateWrite } from "../runtime/store/index.js";
import { encode, newInvocationId } from "../sdk/internal.js";
import { tempDir } from "./helpers/host.js";

const stores: Store[] = [];
afterAll(async () => {
  for (const store of stores.splice(0)) await store.close();
});

function record(partition: number, stateWrites: StateWrite[]): InvocationRecord {
  return {
    partition,
    invocationId: newInvocationId(),
    completion: { outcome: { ok: true, value: encode(null) }, expiresAtMs: Date.now() + 60_000 },
    stateWrites,
    outbox: [],
    position: 0,
  };
}

// Few letters, so that generated strings are often prefixes of each other, hold NUL, a BOM, U+FFFF and the
// highest code point, and are long enough (64+) for lmdb-js's array encoding to stop escaping NUL.
const letter = fc.constantFrom("a", "b", "\u0000", "\uFEFF", "\uFFFF", "\u{10FFFF}", "é");
const text = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: letter, maxLength }),
    fc.string({ unit: "binary", maxLength }),
    fc.constantFrom("", "victim", `victim\u0000${"a".repeat(64)}`, "\u0000".repeat(70), "\uFFFF\uFFFF\uFFFF"),
  );
const objectName = text(40);
const objectKey = text(120).filter((key) => Buffer.byteLength(key) <= 1024);
const stateName = text(60).filter((name) => name.length > 0 && Buffer.byteLength(name) <= 256);

interface Target {
  object: string;
  key: string;
  names: string[];
}
const targets = fc.uniqueArray(
  fc.record({ object: objectName, key: objectKey, names: fc.uniqueArray(stateName, { minLength: 1, maxLength: 4 }) }),
  { minLength: 2, maxLength: 5, selector: (t) => JSON.stringify([t.object, t.key]) },
);

const sortedState = (snapshot: PartitionSnapshot) =>
  snapshot.state.map(([object, key, name, value]) => JSON.stringify([object, key, name, [...value]])).sort();

describe("LMDB state keys", () => {
  it("keep every (object, key) of a partition apart, whatever the strings, and survive export and import exactly", async () => {
    const source = new Store(tempDir());
    const target = new Store(tempDir());
    stores.push(source, target);
    let partition = 0;
    const neighbours = record(0, []);
    await fc.assert(
      fc.asyncProperty(targets, async (all: Target[]) => {
        const p = partition++;
        const value = (t: number, n: number) => encode(`${t}:${n}`);
        const writes = all.flatMap((t, i) => t.names.map((name, n): StateWrite => ({ type: "set", object: t.object, key: t.key, name, value: value(i, n) })));
        // Something in the partitions on both sides, which no range of p may reach.
        await source.applyLogged(p + 1000, 1, [{ ...neighbours, partition: p + 1000, stateWrites: writes }]);
        await source.applyLogged(p, 1, [record(p, writes)]);
        const own = (t: Target) => [...t.names].sort();
        for (const [i, t] of all.entries()) {
          expect([...source.readStateNames(p, t.object, t.key)].sort()).toEqual(own(t));
          t.names.forEach((name, n) => expect(source.readState(p, t.object, t.key, name)).toBe(`${i}:${n}`));
          for (const other of all) {
            for (const name of other.names) if (!t.names.includes(name)) expect(source.readState(p, t.object, t.key, name)).toBeUndefined();
          }
        }

        const snapshot = source.exportPartition(p);
        expect(snapshot.state).toHaveLength(writes.length);
        await target.importPartition(snapshot);
        expect(sortedState(target.exportPartition(p))).toEqual(sortedState(snapshot));
        for (const t of all) expect([...target.readStateNames(p, t.object, t.key)].sort()).toEqual(own(t));

        const [cleared, ...kept] = all as [Target, ...Target[]];
        await source.applyLogged(p, 2, [record(p, [{ type: "clearAll", object: cleared.object, key: cleared.key }])]);
        expect(source.readStateNames(p, cleared.object, cleared.key)).toEqual([]);
        for (const t of kept) expect([...source.readStateNames(p, t.object, t.key)].sort()).toEqual(own(t));
        expect(source.exportPartition(p + 1000).state).toHaveLength(writes.length);
      }),
      {
        seed: 7,
        numRuns: 150,
        examples: [[[{ object: "Probe", key: "victim", names: ["list"] }, { object: "Probe", key: `victim\u0000${"a".repeat(64)}`, names: ["list"] }]]],
      },
    );
  });
});

describe("LMDB store format", () => {
  it("clears a data dir written with the old array keys, once, and says so at info", async () => {
    const dir = tempDir();
    // What a host before format 2 left behind: array keys, and no format marker.
    const old = open({ path: dir, maxDbs: 8, noSync: true, compression: false });
    await old.openDB({ name: "state", encoding: "binary" }).put([3, "Cart", "u1", "items"], encode(["a"]));
    await old.openDB({ name: "applied" }).put(3, 17);
    await old.openDB({ name: "positions" }).put(3, 42);
    await old.close();

    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino(
      { level: "info" },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
          done();
        },
      }),
    );
    const store = new Store(dir, { log: logger });
    // Nothing of the old layout is read as the new one: every partition starts from its snapshot and changelog.
    expect(store.appliedLogSeq(3)).toBe(0);
    expect(store.readPosition(3)).toBe(0);
    expect(store.readStateNames(3, "Cart", "u1")).toEqual([]);
    expect(store.exportPartition(3).state).toEqual([]);
    await store.applyLogged(3, 18, [record(3, [{ type: "set", object: "Cart", key: "u1", name: "items", value: encode(["b"]) }])]);
    await store.close();
    expect(lines.filter((line) => line.level === 30)).toHaveLength(1);

    const reopened = new Store(dir, { log: logger });
    stores.push(reopened);
    expect(reopened.appliedLogSeq(3)).toBe(18);
    expect(reopened.readState(3, "Cart", "u1", "items")).toEqual(["b"]);
    expect(lines).toHaveLength(1);
  });

  it("starts a new data dir in the current format without clearing or logging anything", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    const dir = tempDir();
    const store = new Store(dir, { log: logger });
    await store.applyLogged(1, 5, [record(1, [{ type: "set", object: "C", key: "k", name: "n", value: encode(1) }])]);
    await store.close();
    const reopened = new Store(dir, { log: logger });
    stores.push(reopened);
    expect(reopened.appliedLogSeq(1)).toBe(5);
    expect(lines).toEqual([]);
  });
});
