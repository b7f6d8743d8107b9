import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect as natsConnect, headers as natsHeaders } from "nats";
import { CallTimeoutError, TerminalError, object } from "cairn";
import { type CairnClient, connect } from "cairn/client";
import { type Host, startHost } from "cairn/runtime";
import { shoppingCart, orderService } from "../examples/shopping-cart.js";
import { counter, mirror } from "../examples/counter.js";
import { observed, probe } from "./fixtures/probe.js";
import { decode, encode, newInvocationId, partitionOf } from "../sdk/internal.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";
import { terminalError } from "./helpers/expect.js";

let nats: NatsServer;
let host: Host;
let client: CairnClient;
let namespace: string;
const services = [probe, shoppingCart, orderService, counter, mirror];

beforeAll(async () => {
  nats = await startNatsServer();
  namespace = uniqueNamespace();
  host = await startHost({ services, dataDir: tempDir(), nats: { servers: nats.url }, namespace, partitions: 8, logLevel: "silent" });
  client = await connect({ servers: nats.url, namespace });
});

afterAll(async () => {
  await client?.close();
  await host?.close();
  await nats?.stop();
});

beforeEach(() => observed.reset());

const item = (sku: string) => ({ sku, qty: 1, priceCents: 100 });

describe("scheduling", () => {
  it("never overlaps two exclusive handlers of one key, and runs different keys in parallel", async () => {
    const sameKey = Array.from({ length: 8 }, () => client.objectClient(probe, "one").work(30));
    await Promise.all(sameKey);
    expect(observed.maxOverlapByKey.get("one")).toBe(1);

    observed.reset();
    await Promise.all(Array.from({ length: 8 }, (_, i) => client.objectClient(probe, `k${i}`).work(200)));
    for (let i = 0; i < 8; i++) expect(observed.maxOverlapByKey.get(`k${i}`)).toBe(1);
    expect(observed.maxActive).toBeGreaterThan(1);
  });

  it("runs exclusive invocations of one key in arrival order", async () => {
    const send = client.objectSendClient(probe, "ordered");
    for (let i = 0; i < 30; i++) await send.append(i);
    expect(await eventually(async () => (await client.objectClient(probe, "ordered").list()).length === 30)).toBe(true);
    expect(await client.objectClient(probe, "ordered").list()).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it("runs shared handlers concurrently, against the last committed state only", async () => {
    const p = client.objectClient(probe, "shared");
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

describe("state and messages", () => {
  it("keeps state across a host restart", async () => {
    const ns = uniqueNamespace();
    const dataDir = tempDir();
    const options = { services, dataDir, nats: { servers: nats.url }, namespace: ns, partitions: 4, logLevel: "silent" as const };
    const first = await startHost(options);
    await first.client.objectClient(shoppingCart, "restart").addItem(item("a"));
    await first.client.objectClient(shoppingCart, "restart").addItem(item("b"));
    await first.close();
    const second = await startHost(options);
    try {
      expect((await second.client.objectClient(shoppingCart, "restart").getItems()).map((i) => i.sku)).toEqual(["a", "b"]);
    } finally {
      await second.close();
    }
  });

  it("Counter.add forwards a one-way send to Mirror.add and both totals stay equal", async () => {
    const c = client.objectClient(counter, "c1");
    await Promise.all(Array.from({ length: 40 }, (_, i) => c.add(i + 1)));
    const expected = (40 * 41) / 2;
    expect(await c.total()).toBe(expected);
    expect(await eventually(async () => (await client.objectClient(mirror, "c1").total()) === expected)).toBe(true);
  });

  it("retries a handler that fails twice, then commits its effects once", async () => {
    const result = await client.objectClient(probe, "flaky").flaky();
    expect(result).toEqual({ attempt: 3, n: 1 });
    expect(observed.runs.get("flaky:flaky")).toBe(3);
    expect(await client.objectClient(probe, "flaky").n()).toBe(1);
  });
});

describe("idempotency", () => {
  it("runs a call once for every retry with the same idempotency key and returns the first result", async () => {
    const p = client.objectClient(probe, "idem");
    const results = await Promise.all(Array.from({ length: 5 }, () => p.once("first", { idempotencyKey: "req-1" })));
    const later = await p.once("second", { idempotencyKey: "req-1" });
    expect(observed.runs.get("once:idem")).toBe(1);
    for (const r of [...results, later]) expect(r).toEqual(results[0]);
    const other = await p.once("third", { idempotencyKey: "req-2" });
    expect(other.runs).toBe(2);
  });

  it("runs a one-way send once when it is sent twice with the same idempotency key", async () => {
    const s = client.objectSendClient(probe, "idem-send");
    const a = await s.once("x", { idempotencyKey: "s-1" });
    const b = await s.once("x", { idempotencyKey: "s-1" });
    expect(a.invocationId).toBe(b.invocationId);
    expect(await eventually(() => observed.runs.get("once:idem-send") === 1)).toBe(true);
    // Any second run would come right behind the first on the same key.
    await client.objectClient(probe, "idem-send").append(1);
    expect(observed.runs.get("once:idem-send")).toBe(1);
  });

  it("rejects with CallTimeoutError (not TerminalError) when the result does not come in time", async () => {
    const error = await client.objectClient(probe, "slow").sleep(1500, { timeoutMs: 200, idempotencyKey: "slow-1" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect(error).not.toBeInstanceOf(TerminalError);
    expect((error as Error).message).toMatch(/outcome is unknown.*same idempotency key/);
    expect(await client.objectClient(probe, "slow").sleep(1500, { idempotencyKey: "slow-1" })).toBe(1500);
  });
});

describe("bad input", () => {

  it("refuses input failing its schema with a TerminalError naming the handler and problem", async () => {
    const cart = client.objectClient(shoppingCart, "bad");
    const error = await terminalError(cart.addItem({ sku: "x", qty: -1, priceCents: 1 }));
    expect(error.message).toBe("ShoppingCart.addItem: invalid input: input.qty: Too small: expected number to be >0");
    expect(await cart.getItems()).toEqual([]);
  });

  it("refuses an unknown object and an unknown handler", async () => {
    const ghost = object({ name: "Ghost", handlers: { boo: async () => 1 } });
    expect((await terminalError(client.objectClient(ghost, "g").boo())).message).toMatch(/^Ghost\.boo: unknown object or service "Ghost"/);
    const fakeCart = object({ name: "ShoppingCart", handlers: { explode: async () => 1 } });
    expect((await terminalError(client.objectClient(fakeCart, "g").explode())).message).toBe(
      'ShoppingCart.explode: unknown handler "explode" (ShoppingCart has: addItem, getItems, checkout)',
    );
  });

  it("refuses a payload over the maximum", async () => {
    const big = { sku: "x".repeat(1024 * 1024 + 10), qty: 1, priceCents: 1 };
    const error = await terminalError(client.objectClient(shoppingCart, "big").addItem(big));
    expect(error.message).toMatch(/^ShoppingCart\.addItem: payload of \d+ bytes exceeds the maximum of 1048576 bytes$/);
  });

  it("refuses undecodable bytes on the stream, with and without Cairn headers, and keeps serving", async () => {
    const nc = await natsConnect({ servers: nats.url });
    const js = nc.jetstream();
    try {
      const replies = nc.subscribe("_INBOX.bad.replies", { max: 2 });
      const headers = (callId: string) => {
        const h = natsHeaders();
        h.set("Cairn-Invocation-Id", newInvocationId());
        h.set("Cairn-Target", "object:ShoppingCart.addItem");
        h.set("Cairn-Key", "raw");
        h.set("Cairn-Reply-To", "_INBOX.bad.replies");
        h.set("Cairn-Call-Id", callId);
        return h;
      };
      const home = partitionOf("ShoppingCart", "raw", 8);
      await js.publish(`${namespace}.in.${home}`, new Uint8Array([0xc1, 0xff, 0x00]), { headers: headers("garbage") });
      await js.publish(`${namespace}.in.${(home + 1) % 8}`, encode(item("x")), { headers: headers("misrouted") });
      await js.publish(`${namespace}.in.1`, new Uint8Array([1, 2, 3]));
      const messages = new Map<string, string>();
      for await (const msg of replies) {
        const reply = decode(msg.data) as { callId: string; ok: boolean; error: { name: string; message: string } };
        expect(reply.ok).toBe(false);
        expect(reply.error.name).toBe("TerminalError");
        messages.set(reply.callId, reply.error.message);
      }
      expect(messages.get("garbage")).toMatch(/^ShoppingCart\.addItem: input is not valid msgpack/);
      expect(messages.get("misrouted")).toMatch(/^ShoppingCart\.addItem: sent to partition \d+, which does not hold this target/);
    } finally {
      await nc.close();
    }
    expect(await client.objectClient(shoppingCart, "after-bad").addItem(item("ok"))).toEqual({ itemCount: 1 });
    // Both bad messages were settled (acked), not left to be redelivered forever.
    const admin = await natsConnect({ servers: nats.url });
    try {
      const jsm = await admin.jetstreamManager();
      const drained = await eventually(async () => (await jsm.streams.info(`${namespace.toUpperCase()}_INBOX`)).state.messages === 0);
      expect(drained).toBe(true);
    } finally {
      await admin.close();
    }
  });
});
