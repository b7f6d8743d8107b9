import { afterEach, describe, expect, it } from "vitest";
import { Store } from "../runtime/store/index.js";
import type { CommitRecord } from "../runtime/store/index.js";
import { decode, encode, newInvocationId } from "../sdk/internal.js";
import { tempDir } from "./helpers/host.js";

const stores: Store[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

function record(partition: number, expiresAtMs: number, extra: Partial<CommitRecord> = {}): CommitRecord {
  return {
    partition,
    invocationId: newInvocationId(),
    completion: { outcome: { ok: true, value: encode(1) }, expiresAtMs },
    stateWrites: [],
    outbox: [],
    position: 0,
    ...extra,
  };
}

describe("Store", () => {
  it("commits state, outbox and completion together, and keeps them across reopening", async () => {
    const dir = tempDir();
    const store = new Store(dir);
    const r = record(3, Date.now() + 60_000, {
      stateWrites: [{ type: "set", object: "Cart", key: "u1", name: "items", value: encode(["a"]) }],
      outbox: [{ subject: "cairn.in.1", envelope: { invocationId: newInvocationId(), target: { type: "service", name: "S", handler: "h" } }, data: new Uint8Array([1]) }],
      position: 42,
    });
    const seqs = await store.commit(r);
    expect(seqs).toEqual([1]);
    await store.close();

    const reopened = new Store(dir);
    stores.push(reopened);
    expect(reopened.readState(3, "Cart", "u1", "items")).toEqual(["a"]);
    const outcome = reopened.readCompletion(3, r.invocationId)?.outcome;
    expect(outcome?.ok && decode(outcome.value)).toBe(1);
    expect(reopened.readOutbox(3).map((o) => o.seq)).toEqual([1]);
    expect(reopened.readPosition(3)).toBe(42);
    expect(await reopened.commit(record(3, Date.now() + 60_000, { outbox: r.outbox }))).toEqual([2]);
    await reopened.removeOutbox(3, [1, 2]);
    expect(reopened.readOutbox(3)).toEqual([]);
  });

  it("forgets completions once their idempotency window has passed, and only those", async () => {
    const store = new Store(tempDir());
    stores.push(store);
    const now = Date.now();
    const old = record(0, now - 1);
    const fresh = record(0, now + 60_000);
    await Promise.all([store.commit(old), store.commit(fresh)]);
    expect(await store.expireCompletions(now)).toBe(1);
    expect(store.readCompletion(0, old.invocationId)).toBeUndefined();
    expect(store.readCompletion(0, fresh.invocationId)).toBeDefined();
  });
});
