import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  type Context,
  type ObjectContext,
  type ObjectSharedContext,
  RetryableError,
  TerminalError,
  handlers,
  object,
  service,
} from "cairn";
import type { CallClient, CallOptions, SendClient, SendReceipt } from "cairn";
import { childInvocationId, idempotentInvocationId, newInvocationId, parseInvocationId, partitionOf } from "../sdk/internal.js";
import { DEFAULT_RETRY_POLICY, classifyFailure } from "../runtime/invoke/index.js";
import { KeyQueue } from "../runtime/partition/index.js";
import { isClientReplySubject, parseEnvelope } from "../runtime/transport/nats/index.js";
import { envelopeHeaders } from "../sdk/internal.js";

const Item = z.object({ sku: z.string(), qty: z.number().int().positive() });

const cart = object({
  name: "Cart",
  handlers: {
    add: handlers.object.exclusive({ input: Item }, async (ctx: ObjectContext, item) => {
      expectTypeOf(item).toEqualTypeOf<{ sku: string; qty: number }>();
      return { count: item.qty };
    }),
    list: handlers.object.shared(async (ctx: ObjectSharedContext) => {
      // @ts-expect-error a shared handler cannot write state
      ctx.set("items", []);
      return (await ctx.get<string[]>("items")) ?? [];
    }),
    clear: async (ctx: ObjectContext) => ctx.clearAll(),
  },
});

const svc = service({
  name: "Svc",
  handlers: {
    echo: handlers.handler(async (ctx: Context, text: string) => {
      // @ts-expect-error a service has no state
      await ctx.get("x");
      return text.length;
    }),
  },
});

describe("the public types", () => {
  it("flow from definitions into clients", () => {
    type Calls = CallClient<typeof cart>;
    expectTypeOf<Parameters<Calls["add"]>[0]>().toEqualTypeOf<{ sku: string; qty: number }>();
    expectTypeOf<ReturnType<Calls["add"]>>().toEqualTypeOf<Promise<{ count: number }>>();
    expectTypeOf<ReturnType<Calls["list"]>>().toEqualTypeOf<Promise<string[]>>();
    type Svc = CallClient<typeof svc>;
    expectTypeOf<ReturnType<Svc["echo"]>>().toEqualTypeOf<Promise<number>>();
    type Sends = SendClient<typeof cart>;
    expectTypeOf<ReturnType<Sends["add"]>>().toEqualTypeOf<Promise<SendReceipt>>();
    // A handler without input takes none.
    expectTypeOf<Parameters<Calls["clear"]>>().toEqualTypeOf<[input?: void, options?: CallOptions]>();
  });

  it("refuses bad definitions with a clear message", () => {
    expect(() => object({ name: "has space", handlers: { a: async () => 1 } })).toThrow('Object name "has space" must start with a letter');
    expect(() => object({ name: "Empty", handlers: {} })).toThrow("Empty has no handlers");
    // @ts-expect-error a service handler does not belong on an object
    expect(() => object({ name: "Mixed", handlers: { a: handlers.handler(async () => 1) } })).toThrow("handlers.handler is for services");
  });
});

describe("invocation ids and partitions", () => {
  it("derives the same id for the same idempotency key and target, and a different one otherwise", () => {
    const a = idempotentInvocationId("Cart/u1/add", "req-1");
    expect(a).toBe(idempotentInvocationId("Cart/u1/add", "req-1"));
    expect(a).not.toBe(idempotentInvocationId("Cart/u2/add", "req-1"));
    expect(a).toMatch(/^inv_[0-9a-z]{26}$/);
    expect(parseInvocationId(a)).toBe(a);
    expect(parseInvocationId("inv_short")).toBeUndefined();
    expect(childInvocationId(a, 0)).toBe(childInvocationId(a, 0));
    expect(childInvocationId(a, 0)).not.toBe(childInvocationId(a, 1));
    expect(newInvocationId()).not.toBe(newInvocationId());
  });

  it("derives the same ids as every earlier version", () => {
    // Fixed values: a change here would run again every idempotent call retried across an upgrade.
    const a = idempotentInvocationId("Cart/u/add", "k");
    expect([a, childInvocationId(a, 3)]).toEqual(["inv_1c2sns649rb3z813z6acwzqzeg", "inv_69j2vt3zv6zckac66nzttx8770"]);
  });

  it("partitions keys stably across processes", () => {
    // Fixed values: a change here would move every key of an existing deployment.
    expect([partitionOf("ShoppingCart", "user-1", 32), partitionOf("Counter", "c-7", 32)]).toEqual([20, 10]);
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionOf("Cart", `user-${i}`, 8)]!++;
    for (const n of counts) expect(n).toBeGreaterThan(800);
  });
});

describe("classifyFailure", () => {
  const policy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, nonRetryableErrors: ["RangeError"] };

  it("fails a TerminalError at once and retries anything else with backoff", () => {
    expect(classifyFailure(new TerminalError("no"), 1, policy, "A.b")).toEqual({
      type: "fail",
      outcome: { ok: false, error: { name: "TerminalError", message: "no", code: 500 } },
    });
    expect(classifyFailure(new Error("flaky"), 1, policy, "A.b")).toEqual({ type: "retry", delayMs: 100 });
    expect(classifyFailure(new Error("flaky"), 2, policy, "A.b")).toEqual({ type: "retry", delayMs: 200 });
    expect(classifyFailure(new RetryableError("later", { retryAfterMs: 5000 }), 1, policy, "A.b")).toEqual({ type: "retry", delayMs: 5000 });
  });

  it("fails listed error classes and exhausted attempts with a TerminalError carrying the cause", () => {
    const listed = classifyFailure(new RangeError("out"), 1, policy, "A.b");
    expect(listed).toMatchObject({ type: "fail", outcome: { ok: false, error: { message: "A.b: RangeError: out" } } });
    const exhausted = classifyFailure(new Error("still down"), 3, policy, "A.b");
    expect(exhausted).toMatchObject({ type: "fail", outcome: { ok: false, error: { message: "A.b: failed after 3 attempts: Error: still down" } } });
  });
});

describe("KeyQueue", () => {
  it("runs one task at a time per key, in order, and keys in parallel", async () => {
    const queue = new KeyQueue();
    const log: string[] = [];
    let active = 0;
    let maxActive = 0;
    const task = (name: string, ms: number) => async () => {
      maxActive = Math.max(maxActive, ++active);
      await new Promise((r) => setTimeout(r, ms));
      log.push(name);
      active--;
    };
    queue.run("a", task("a1", 20));
    queue.run("a", async () => {
      throw new Error("a2 fails");
    });
    queue.run("a", task("a3", 1));
    queue.run("b", task("b1", 5));
    await queue.idle();
    expect(log).toEqual(["b1", "a1", "a3"]);
    expect(maxActive).toBe(2);
    expect(queue.size).toBe(0);
  });
});

describe("parseEnvelope", () => {
  it("reads what envelopeHeaders wrote, keys with any characters included", () => {
    const invocationId = newInvocationId();
    const target = { type: "object" as const, name: "Cart", key: "ü/ key\r\n%", handler: "add" };
    const parsed = parseEnvelope(envelopeHeaders({ invocationId, target, replyTo: { kind: "nats", subject: "_INBOX.x", callId: "c" } }), ["_INBOX"]);
    expect(parsed).toEqual({ ok: true, envelope: { invocationId, target, replyTo: { kind: "nats", subject: "_INBOX.x", callId: "c" } } });
  });

  it("says what is wrong with a message it cannot run", () => {
    expect(parseEnvelope(undefined, ["_INBOX"])).toMatchObject({ ok: false, problem: "(unknown target): message has no Cairn headers" });
  });

  it("refuses a reply subject outside the clients' inbox prefixes, and gives no one to answer", () => {
    const invocationId = newInvocationId();
    const target = { type: "object" as const, name: "Cart", key: "k", handler: "add" };
    for (const subject of ["cairn.log.3", "$KV.cairn_leases.p.1", "_INBOXX.a", "_INBOX", "_INBOX.", "_INBOX.a.*", "_INBOX.a.>", "_INBOX..a", "x._INBOX.a"]) {
      const parsed = parseEnvelope(envelopeHeaders({ invocationId, target, replyTo: { kind: "nats", subject, callId: "c" } }), ["_INBOX"]);
      expect(parsed, subject).toMatchObject({ ok: false, replyTo: undefined });
      if (!parsed.ok) expect(parsed.problem).toMatch(/is not a reply subject of a client/);
    }
    expect(isClientReplySubject("_INBOX.abc.1", ["_INBOX"])).toBe(true);
    expect(isClientReplySubject("_INBOX_app.abc", ["_INBOX", "_INBOX_app"])).toBe(true);
    expect(isClientReplySubject("_INBOX_app.abc", ["_INBOX"])).toBe(false);
  });
});
