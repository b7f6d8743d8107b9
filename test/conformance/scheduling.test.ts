import { beforeEach, describe, expect, it } from "vitest";
import { observed, probe } from "../fixtures/probe.js";
import { eventually } from "../helpers/host.js";
import { modes, useMode } from "../helpers/modes.js";

describe.each(modes)("$label", (mode) => {
  const h = useMode(mode).sharedHost({ services: [probe], host: { partitions: 8 } });

  beforeEach(() => observed.reset());

  it("never overlaps two exclusive handlers of one key, and runs different keys in parallel", async () => {
    const sameKey = Array.from({ length: 8 }, () => h.client.objectClient(probe, "one").work(30));
    await Promise.all(sameKey);
    expect(observed.maxOverlapByKey.get("one")).toBe(1);

    observed.reset();
    await Promise.all(Array.from({ length: 8 }, (_, i) => h.client.objectClient(probe, `k${i}`).work(200)));
    for (let i = 0; i < 8; i++) expect(observed.maxOverlapByKey.get(`k${i}`)).toBe(1);
    expect(observed.maxActive).toBeGreaterThan(1);
  });

  it("runs exclusive invocations of one key in arrival order", async () => {
    const send = h.client.objectSendClient(probe, "ordered");
    for (let i = 0; i < 30; i++) await send.append(i);
    expect(await eventually(async () => (await h.client.objectClient(probe, "ordered").list()).length === 30)).toBe(true);
    expect(await h.client.objectClient(probe, "ordered").list()).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it("runs shared handlers concurrently, against the last committed state only", async () => {
    const p = h.client.objectClient(probe, "shared");
    const first = p.setAndHold("committed");
    expect(await eventually(() => observed.gates.has("shared"))).toBe(true);
    observed.gates.get("shared")?.();
    expect(await first).toBe("committed");

    observed.gates.clear();
    const held = p.setAndHold("uncommitted");
    expect(await eventually(() => observed.gates.has("shared"))).toBe(true);
    // The exclusive handler has set "uncommitted" but holds the key: shared reads still see the old value.
    expect(await p.read()).toBe("committed");
    const [a, b] = await Promise.all([p.rendezvous(), p.rendezvous()]);
    expect(a && b).toBe(true);
    observed.gates.get("shared")?.();
    expect(await held).toBe("uncommitted");
    expect(await p.read()).toBe("uncommitted");
  }, 20_000);
});
