import { beforeEach, describe, expect, it } from "vitest";
import { CallTimeoutError, TerminalError } from "cairn";
import { observed, probe } from "../fixtures/probe.js";
import { eventually } from "../helpers/host.js";
import { modes, useMode } from "../helpers/modes.js";

describe.each(modes)("$label", (mode) => {
  const h = useMode(mode).sharedHost({ services: [probe], host: { partitions: 4 } });

  beforeEach(() => observed.reset());

  it("runs a call once for every retry with the same idempotency key and returns the first result", async () => {
    const p = h.client.objectClient(probe, "idem");
    const results = await Promise.all(Array.from({ length: 5 }, () => p.once("first", { idempotencyKey: "req-1" })));
    const later = await p.once("second", { idempotencyKey: "req-1" });
    expect(observed.runs.get("once:idem")).toBe(1);
    for (const r of [...results, later]) expect(r).toEqual(results[0]);
    const other = await p.once("third", { idempotencyKey: "req-2" });
    expect(other.runs).toBe(2);
  });

  it("runs a one-way send once when it is sent twice with the same idempotency key", async () => {
    const s = h.client.objectSendClient(probe, "idem-send");
    const a = await s.once("x", { idempotencyKey: "s-1" });
    const b = await s.once("x", { idempotencyKey: "s-1" });
    expect(a.invocationId).toBe(b.invocationId);
    expect(await eventually(() => observed.runs.get("once:idem-send") === 1)).toBe(true);
    // Any second run would come right behind the first on the same key.
    await h.client.objectClient(probe, "idem-send").append(1);
    expect(observed.runs.get("once:idem-send")).toBe(1);
  });

  it("rejects with CallTimeoutError (not TerminalError) when the result does not come in time", async () => {
    const error = await h.client.objectClient(probe, "slow").sleep(1500, { timeoutMs: 200, idempotencyKey: "slow-1" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect(error).not.toBeInstanceOf(TerminalError);
    expect((error as Error).message).toMatch(/outcome is unknown.*same idempotency key/);
    expect(await h.client.objectClient(probe, "slow").sleep(1500, { idempotencyKey: "slow-1" })).toBe(1500);
  });
});
