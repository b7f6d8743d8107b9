import { open as openLmdb } from "lmdb";
import { connect as natsConnect, headers as natsHeaders } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ObjectContext, type ObjectSharedContext, TerminalError, handlers, object } from "cairn";
import { type CairnClient, connect } from "cairn/client";
import { type Host, startHost } from "cairn/runtime";
import { probe } from "./fixtures/probe.js";
import { decode, encode, newInvocationId, partitionOf } from "../sdk/internal.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";
import { terminalError } from "./helpers/expect.js";

const PARTITIONS = 4;
const LONE = "lone\uD800surrogate";

/**
 * Handlers that hand ctx a string with a lone surrogate. They make it themselves: msgpack would turn
 * one in their input into U+FFFD on the way.
 */
const relay = object({
  name: "Relay",
  handlers: {
    sendTo: async (ctx: ObjectContext, input: { lone: boolean; key: string; value: number }) => {
      if (input.lone) ctx.objectSendClient(probe, LONE).append(input.value);
      ctx.objectSendClient(probe, input.key).append(input.value);
    },
    setLone: async (ctx: ObjectContext) => ctx.set(LONE, 1),
    clearLone: async (ctx: ObjectContext) => ctx.clear(LONE),
    getLone: handlers.object.shared(async (ctx: ObjectSharedContext) => ctx.get(LONE)),
  },
});

let nats: NatsServer;
let client: CairnClient;
const open: Host[] = [];

async function start(namespace: string, dataDir = tempDir()): Promise<Host> {
  const host = await startHost({
    services: [probe, relay],
    dataDir,
    nats: { servers: nats.url },
    namespace,
    partitions: PARTITIONS,
    // Far longer than the test: partitions move because they are handed over, not because leases expire.
    leaseTtlMs: 20_000,
    shutdownGraceMs: 2000,
    logLevel: "silent",
  });
  open.push(host);
  return host;
}

beforeAll(async () => {
  nats = await startNatsServer();
});

afterAll(async () => {
  await client?.close();
  for (const host of open.splice(0)) await host.close().catch(() => undefined);
  await nats?.stop();
});


/** `victim\0` and 64 more characters (lmdb-js stops escaping NUL in strings that long), on victim's partition. */
function attackerKeyFor(victim: string): string {
  for (let i = 0; ; i++) {
    const key = `${victim}\u0000${String(i).padStart(64, "x")}`;
    if (partitionOf("Probe", key, PARTITIONS) === partitionOf("Probe", victim, PARTITIONS)) return key;
  }
}

describe("object keys holding NUL", () => {
  it("never reach another key's state: stateKeys and clearAll see only their own key", async () => {
    const namespace = uniqueNamespace("nul");
    await start(namespace);
    client = await connect({ servers: nats.url, namespace });
    const victim = client.objectClient(probe, "victim");
    const attacker = client.objectClient(probe, attackerKeyFor("victim"));
    await victim.append(1);
    await attacker.append(2);
    expect(await victim.keys()).toEqual(["list"]);
    expect(await victim.list()).toEqual([1]);
    expect(await attacker.list()).toEqual([2]);

    expect(await victim.wipe()).toEqual({ keys: ["z"], a: null });
    expect(await victim.keys()).toEqual(["z"]);
    expect(await attacker.keys()).toEqual(["list"]);
    expect(await attacker.list()).toEqual([2]);
    await client.close();
  });

  it("keep their own state through a graceful handoff to a host with an empty data dir", async () => {
    const namespace = uniqueNamespace("nulh");
    const first = await start(namespace);
    client = await connect({ servers: nats.url, namespace });
    const victim = client.objectClient(probe, "victim");
    const attacker = client.objectClient(probe, attackerKeyFor("victim"));
    await victim.append(1);
    await attacker.append(2);

    const second = await start(namespace);
    open.splice(open.indexOf(first), 1);
    await first.close();
    expect(await eventually(() => second.ownedPartitions().length === PARTITIONS, 10_000)).toBe(true);
    expect(await victim.keys()).toEqual(["list"]);
    expect(await victim.list()).toEqual([1]);
    expect(await attacker.keys()).toEqual(["list"]);
    expect(await attacker.list()).toEqual([2]);
    await client.close();
  });
});

describe("a data dir written in the old LMDB format", () => {
  it("is not read: a host restarted on it serves every key's state again, restored from the changelog", async () => {
    const namespace = uniqueNamespace("fmt");
    const dataDir = tempDir();
    const first = await start(namespace, dataDir);
    client = await connect({ servers: nats.url, namespace });
    for (const key of ["victim", "other"]) await client.objectClient(probe, key).append(1);
    open.splice(open.indexOf(first), 1);
    await first.close();
    // What an older host leaves: array keys (here one that would shadow victim's list) and no format marker.
    const env = openLmdb({ path: dataDir, maxDbs: 8, noSync: true, compression: false });
    await env.openDB({ name: "meta" }).remove("format");
    await env.openDB({ name: "state", encoding: "binary" }).put([partitionOf("Probe", "victim", PARTITIONS), "Probe", "victim", "list"], encode([999]));
    await env.close();

    await start(namespace, dataDir);
    expect(await client.objectClient(probe, "victim").list()).toEqual([1]);
    expect(await client.objectClient(probe, "other").list()).toEqual([1]);
    await client.objectClient(probe, "victim").append(2);
    expect(await client.objectClient(probe, "victim").list()).toEqual([1, 2]);
    await client.close();
  });
});

describe("strings that are not well-formed UTF-16", () => {
  let namespace: string;
  beforeAll(async () => {
    namespace = uniqueNamespace("lone");
    await start(namespace);
    client = await connect({ servers: nats.url, namespace });
  });

  it("are refused as object keys by ctx.objectSendClient, and the attempt's other sends are not committed", async () => {
    const refused = await terminalError(client.objectClient(relay, "r1").sendTo({ lone: true, key: "after-lone", value: 7 }));
    expect(refused.message).toBe("ctx.objectSendClient(Probe, key): the object key holds a lone surrogate at index 4; an object key must be well-formed UTF-16");
    await client.objectClient(relay, "r1").sendTo({ lone: false, key: "after-lone", value: 8 });
    // Sends leave in commit order: had the refused invocation committed its send, 7 would come first.
    expect(await eventually(async () => (await client.objectClient(probe, "after-lone").list()).length > 0, 10_000)).toBe(true);
    expect(await client.objectClient(probe, "after-lone").list()).toEqual([8]);
  });

  it("are refused as state names by ctx.get, ctx.set and ctx.clear", async () => {
    const allowed = "a state name must be a non-empty string of at most 256 bytes, well-formed UTF-16 (it holds a lone surrogate at index 4)";
    expect((await terminalError(client.objectClient(relay, "r2").setLone())).message).toBe(`ctx.set(name, ...): ${allowed}`);
    expect((await terminalError(client.objectClient(relay, "r2").clearLone())).message).toBe(`ctx.clear(name, ...): ${allowed}`);
    expect((await terminalError(client.objectClient(relay, "r2").getLone())).message).toBe(`ctx.get(name, ...): ${allowed}`);
  });

  it("are refused by the host with 400 when a raw message's Cairn-Key header does not decode to one", async () => {
    const nc = await natsConnect({ servers: nats.url });
    try {
      const replies = nc.subscribe("_INBOX.lone.replies", { max: 1 });
      const h = natsHeaders();
      h.set("Cairn-Invocation-Id", newInvocationId());
      h.set("Cairn-Target", "object:Probe.append");
      // What encodeURIComponent would make of a lone surrogate if it did not throw: U+D800 in UTF-8.
      h.set("Cairn-Key", "lone%ED%A0%80surrogate");
      h.set("Cairn-Reply-To", "_INBOX.lone.replies");
      h.set("Cairn-Call-Id", "c1");
      await nc.jetstream().publish(`${namespace}.in.0`, encode(1), { headers: h });
      for await (const msg of replies) {
        const reply = decode(msg.data) as { ok: boolean; error: { name: string; message: string; code: number } };
        expect(reply).toMatchObject({ ok: false, error: { name: "TerminalError", code: 400 } });
        expect(reply.error.message).toBe("Probe.append: malformed Cairn-Key header");
      }
    } finally {
      await nc.close();
    }
  });
});
