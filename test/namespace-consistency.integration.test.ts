import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Context, type ObjectContext, type ObjectSharedContext, TerminalError, handlers, object, service } from "cairn";
import { type CairnClient, connect } from "cairn/client";
import { ConfigError, type Host, type HostOptions, startHost } from "cairn/runtime";
import { partitionOfTarget } from "../sdk/internal.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

const runs = { add: 0, double: 0, charge: 0 };

const add = async (ctx: ObjectContext, n: number) => {
  runs.add++;
  const total = ((await ctx.get<number>("total")) ?? 0) + n;
  ctx.set("total", total);
  return total;
};
const double = async (ctx: ObjectContext) => {
  runs.double++;
  const total = ((await ctx.get<number>("total")) ?? 0) * 2;
  ctx.set("total", total);
  return total;
};

/** The same object in three releases: v2 adds a handler; the third changes `add`'s kind. */
const counterV1 = object({ name: "NsCounter", handlers: { add } });
const counterV2 = object({ name: "NsCounter", handlers: { add, double } });
const counterSharedAdd = object({ name: "NsCounter", handlers: { add: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<number>("total")) ?? 0), double } });
/** `NsCounter` as a service: a type change. */
const counterAsService = service({ name: "NsCounter", handlers: { add: async (_ctx: Context, n: number) => n, double: async () => 0 } });
const billing = service({
  name: "NsBilling",
  handlers: {
    charge: async (_ctx: Context, cents: number) => {
      runs.charge++;
      return { charged: cents };
    },
  },
});

interface LogLine {
  level: number;
  msg: string;
  target?: string;
}

/** A pino logger whose lines (warn and up) land in `lines`. */
function capture(lines: LogLine[]) {
  return pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
}

const PARTITIONS = 4;
let nats: NatsServer;
const open: Array<{ close(): Promise<void> }> = [];
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close().catch(() => undefined);
  await nats?.stop();
});

async function start(namespace: string, services: HostOptions["services"], extra: Partial<HostOptions> = {}): Promise<Host> {
  const host = await startHost({
    services,
    dataDir: tempDir(),
    nats: { servers: nats.url },
    namespace,
    partitions: PARTITIONS,
    leaseTtlMs: 1500,
    shutdownGraceMs: 2000,
    logLevel: "silent",
    ...extra,
  });
  open.push(host);
  return host;
}

async function client(namespace: string): Promise<CairnClient> {
  const c = await connect({ servers: nats.url, namespace, timeoutMs: 30_000 });
  open.push(c);
  return c;
}

async function startError(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("the host started");
}

describe("a NATS namespace records what it serves", () => {
  it("a host serving other services than the namespace records refuses to start, naming the difference", async () => {
    const namespace = uniqueNamespace("nsr");
    const first = await start(namespace, [counterV1]);
    const error = await startError(start(namespace, [billing]));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(`namespace "${namespace}"`);
    expect(error.message).toContain("missing: object NsCounter");
    expect(error.message).toContain("extra: service NsBilling");
    expect(error.message).toContain('namespaceChange: "add"');
    // It took no partitions on its way out.
    expect(first.ownedPartitions()).toHaveLength(PARTITIONS);
    // A host serving the same set joins.
    const second = await start(namespace, [counterV1]);
    expect(await eventually(() => second.ownedPartitions().length === PARTITIONS / 2)).toBe(true);
  });

  it('with namespaceChange: "add" a superset host joins and records it; a host lacking a handler, or changing a kind or type, is still refused', async () => {
    const namespace = uniqueNamespace("nsa");
    await start(namespace, [counterV1]);
    // Without the option, an added handler is refused too.
    const plain = await startError(start(namespace, [counterV2]));
    expect(plain).toBeInstanceOf(ConfigError);
    expect(plain.message).toContain("extra: handler NsCounter.double (exclusive)");

    await start(namespace, [counterV2, billing], { namespaceChange: "add" });
    // Recorded: an old host starting now lacks what the namespace serves.
    const old = await startError(start(namespace, [counterV1]));
    expect(old).toBeInstanceOf(ConfigError);
    expect(old.message).toContain("missing: service NsBilling, handler NsCounter.double (exclusive)");
    // Removing a handler is never an upgrade, with the option too.
    const removing = await startError(start(namespace, [counterV1, billing], { namespaceChange: "add" }));
    expect(removing).toBeInstanceOf(ConfigError);
    expect(removing.message).toContain("missing: handler NsCounter.double (exclusive)");
    const kind = await startError(start(namespace, [counterSharedAdd, billing], { namespaceChange: "add" }));
    expect(kind).toBeInstanceOf(ConfigError);
    expect(kind.message).toContain("changed: handler NsCounter.add is exclusive in the namespace, shared here");
    const type = await startError(start(namespace, [counterAsService, billing], { namespaceChange: "add" }));
    expect(type).toBeInstanceOf(ConfigError);
    expect(type.message).toContain("changed: NsCounter is an object in the namespace, a service here");
    // The recorded superset, without the option.
    await start(namespace, [billing, counterV2]);
  });

  it("two hosts adding at once both keep their additions, or the one that lacks the other's is refused", async () => {
    const namespace = uniqueNamespace("nsc");
    await start(namespace, [counterV1]);
    const results = await Promise.allSettled([
      start(namespace, [counterV2, billing], { namespaceChange: "add" }),
      start(namespace, [counterV2, billing], { namespaceChange: "add" }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    const old = await startError(start(namespace, [counterV2]));
    expect(old.message).toContain("missing: service NsBilling");
  });

  it("a call refused because nobody serves its target is not remembered: the same idempotency key runs once a host serves it", async () => {
    const namespace = uniqueNamespace("nsi");
    const first = await start(namespace, [counterV1]);
    const caller = await client(namespace);
    const refused = caller.serviceClient(billing).charge(5, { idempotencyKey: "order-1" });
    await expect(refused).rejects.toThrow(TerminalError);
    await expect(refused).rejects.toThrow(/unknown object or service "NsBilling"/);
    open.splice(open.indexOf(first), 1);
    await first.close();
    // The right host comes back.
    await start(namespace, [counterV1, billing], { namespaceChange: "add" });
    const before = runs.charge;
    expect(await caller.serviceClient(billing).charge(5, { idempotencyKey: "order-1" })).toEqual({ charged: 5 });
    expect(runs.charge - before).toBe(1);
  });

  it("a message for a handler only the upgraded host serves waits for it, and runs once that host owns the partition", async () => {
    const namespace = uniqueNamespace("nsu");
    const oldLines: LogLine[] = [];
    const old = await start(namespace, [counterV1], { logger: capture(oldLines), leaseTtlMs: 20_000 });
    const upgraded = await start(namespace, [counterV2], { namespaceChange: "add", leaseTtlMs: 20_000 });
    expect(await eventually(() => old.ownedPartitions().length === PARTITIONS / 2 && upgraded.ownedPartitions().length === PARTITIONS / 2)).toBe(true);
    const owned = old.ownedPartitions();
    const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => owned.includes(partitionOfTarget({ type: "object", name: "NsCounter", key: k }, "", PARTITIONS)));
    if (key === undefined) throw new Error("no key on the old host's partitions");
    const caller = await client(namespace);
    await caller.objectClient(counterV1, key).add(3);
    const before = runs.double;
    let settled = false;
    const first = caller.objectClient(counterV2, key).double(undefined, { idempotencyKey: "d-1" }).finally(() => (settled = true));
    const second = caller.objectClient(counterV2, key).double(undefined, { idempotencyKey: "d-2" });
    const waiting = (l: LogLine) => l.msg === "target served by the namespace but not by this host; its messages wait for a host that serves it";
    expect(await eventually(() => oldLines.some(waiting), 10_000)).toBe(true);
    // Nobody refused it, and the old host says why once per target, not once per message.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(settled).toBe(false);
    expect(oldLines.filter(waiting)).toHaveLength(1);
    expect(oldLines.find(waiting)?.target).toBe("NsCounter.double");
    // The rolling upgrade goes on: the old host stops, the upgraded one takes its partitions.
    open.splice(open.indexOf(old), 1);
    await old.close();
    expect([await first, await second]).toEqual([6, 12]);
    expect(runs.double - before).toBe(2);
  });

  it("a one-way send to a target nobody serves is refused with an error line, and dropped", async () => {
    const namespace = uniqueNamespace("nss");
    const lines: LogLine[] = [];
    await start(namespace, [counterV1], { logger: capture(lines) });
    const caller = await client(namespace);
    await caller.serviceSendClient(billing).charge(1);
    const dropped = (l: LogLine) => l.level === 50 && l.msg === "one-way send to a target nobody serves; dropped";
    expect(await eventually(() => lines.some(dropped), 10_000)).toBe(true);
  });
});

describe("embedded mode", () => {
  it("a call refused because the host does not serve its target is not remembered: after a restart that serves it, the same key runs", async () => {
    const dataDir = tempDir();
    const first = await startHost({ services: [counterV1], dataDir, logLevel: "silent" });
    const refused = first.client.serviceClient(billing).charge(7, { idempotencyKey: "order-7" });
    await expect(refused).rejects.toThrow(/unknown object or service "NsBilling"/);
    await first.close();
    const second = await startHost({ services: [counterV1, billing], dataDir, logLevel: "silent" });
    try {
      const before = runs.charge;
      expect(await second.client.serviceClient(billing).charge(7, { idempotencyKey: "order-7" })).toEqual({ charged: 7 });
      expect(runs.charge - before).toBe(1);
    } finally {
      await second.close();
    }
  });
});
