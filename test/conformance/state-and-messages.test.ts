import { describe, expect, it } from "vitest";
import { counter, mirror } from "../../examples/counter.js";
import { orderService, shoppingCart } from "../../examples/shopping-cart.js";
import { echo, probe } from "../fixtures/probe.js";
import { eventually } from "../helpers/host.js";
import { modes, useMode } from "../helpers/modes.js";

const item = (sku: string) => ({ sku, qty: 1, priceCents: 100 });

describe.each(modes)("$label", (mode) => {
  const cairn = useMode(mode);
  const h = cairn.sharedHost({ services: [probe, echo, shoppingCart, orderService, counter, mirror], host: { partitions: 8 } });

  it("keeps state across a host restart on the same data dir", async () => {
    const own = await cairn.start({ services: [shoppingCart, orderService], host: { partitions: 4 } });
    await own.host.client.objectClient(shoppingCart, "restart").addItem(item("a"));
    await own.client.objectClient(shoppingCart, "restart").addItem(item("b"));
    await own.restart();
    expect((await own.client.objectClient(shoppingCart, "restart").getItems()).map((i) => i.sku)).toEqual(["a", "b"]);
    expect(await own.host.client.objectClient(shoppingCart, "restart").addItem(item("c"))).toEqual({ itemCount: 3 });
    await own.close();
  });

  it("Counter.add forwards a one-way send to Mirror.add, which runs it exactly once", async () => {
    const c = h.client.objectClient(counter, "c1");
    await Promise.all(Array.from({ length: 40 }, (_, i) => c.add(i + 1)));
    const expected = (40 * 41) / 2;
    expect(await c.total()).toBe(expected);
    expect(await eventually(async () => (await h.client.objectClient(mirror, "c1").total()) === expected)).toBe(true);
    // A late duplicate would arrive before this add's own forward: both totals must still agree.
    expect(await c.add(1000)).toBe(expected + 1000);
    expect(await eventually(async () => (await h.client.objectClient(mirror, "c1").total()) === expected + 1000)).toBe(true);
    expect(await h.client.objectClient(mirror, "c1").total()).toBe(await c.total());
  });

  it("calls a service, and delivers a service's one-way send to an object and a send to a service", async () => {
    expect(await h.client.serviceClient(echo).shout("hi")).toBe("HI");
    await h.client.serviceClient(echo).forward({ key: "from-service", value: 7 });
    const { invocationId } = await h.client.serviceSendClient(echo).forward({ key: "from-service", value: 8 });
    expect(invocationId).toMatch(/^inv_/);
    expect(await eventually(async () => (await h.client.objectClient(probe, "from-service").list()).length === 2)).toBe(true);
    expect((await h.client.objectClient(probe, "from-service").list()).sort()).toEqual([7, 8]);
  });

  it("lists, clears and rewrites state", async () => {
    const p = h.client.objectClient(probe, "state-ops");
    expect(await p.fill()).toEqual(["a", "b", "c"]);
    expect(await p.keys()).toEqual(["a", "b", "c"]);
    expect(await p.wipe()).toEqual({ keys: ["z"], a: null });
    expect(await p.keys()).toEqual(["z"]);
  });
});
