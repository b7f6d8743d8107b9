import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect as natsConnect, headers as natsHeaders } from "nats";
import { type CairnClient, connect } from "cairn/client";
import { type Host, startHost } from "cairn/runtime";
import { shoppingCart, orderService } from "../examples/shopping-cart.js";
import { counter, mirror } from "../examples/counter.js";
import { probe } from "./fixtures/probe.js";
import { decode, encode, newInvocationId, partitionOf } from "../sdk/internal.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";

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

const item = (sku: string) => ({ sku, qty: 1, priceCents: 100 });

describe("bad input on the stream (NATS only; the shared behaviours are in test/conformance/)", () => {
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
