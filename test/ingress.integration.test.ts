import { connect as netConnect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type Context, type ObjectContext, type ObjectSharedContext, TerminalError, handlers, object, service } from "cairn";
import type { Host } from "cairn/runtime";
import { type Ingress, type IngressOptions, startIngress } from "../runtime/ingress/index.js";
import { Registry } from "../runtime/invoke/index.js";
import { type TargetInvoker, targetInvoker } from "../sdk/internal.js";
import { eventually } from "./helpers/host.js";
import { modes, useMode } from "./helpers/modes.js";

const Item = z.object({ sku: z.string().min(1), qty: z.number().int().positive() });
type Item = z.infer<typeof Item>;

const cart = object({
  name: "Cart",
  handlers: {
    addItem: handlers.object.exclusive({ input: Item }, async (ctx: ObjectContext, item) => {
      const items = (await ctx.get<Item[]>("items")) ?? [];
      items.push(item);
      ctx.set("items", items);
      return { itemCount: items.length };
    }),
    getItems: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<Item[]>("items")) ?? []),
    key: handlers.object.shared(async (ctx: ObjectSharedContext) => ctx.key),
    /** Counts its runs in state: the idempotency tests expect exactly one per idempotency key. */
    bump: async (ctx: ObjectContext) => {
      const n = ((await ctx.get<number>("n")) ?? 0) + 1;
      ctx.set("n", n);
      return { n, invocationId: ctx.invocationId };
    },
    n: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<number>("n")) ?? 0),
    nothing: async () => undefined,
    teapot: async () => {
      throw new TerminalError("no coffee here", { errorCode: 418 });
    },
    oddCode: async () => {
      throw new TerminalError("code seven", { errorCode: 7 });
    },
    empty: async () => {
      throw new TerminalError("Cart is empty");
    },
    slow: async (_ctx: ObjectContext, ms: number) => {
      await sleep(ms);
      return ms;
    },
    /** A handler named like the send suffix: `/Cart/k/send` calls it, `/Cart/k/send/send` sends to it. */
    send: async () => "the send handler",
  },
});

const greeter = service({
  name: "Greeter",
  handlers: {
    greet: handlers.handler({ input: z.string() }, async (_ctx: Context, name) => `hello ${name}`),
    /** Adds an item to a cart, one-way: a service's send has an effect to look for. */
    stock: async (ctx: Context, input: { key: string; sku: string }) => {
      ctx.objectSendClient(cart, input.key).addItem({ sku: input.sku, qty: 1 });
    },
    send: async () => "the service's send handler",
  },
});

const services = [cart, greeter];
const silent = pino({ level: "silent" });

let host: Host;
let invoker: TargetInvoker;
let ingress: Ingress;
let url: string;
const started: Ingress[] = [];

/** An ingress on a free port in front of the test's host, closed after the file. */
async function ingressWith(options: Partial<IngressOptions> = {}): Promise<Ingress> {
  const running = await startIngress({ invoker, registry: new Registry(services), port: 0, maxPayloadBytes: 1024 * 1024, logger: silent, ...options });
  started.push(running);
  return running;
}

let keys = 0;
/** A key no other test uses, with characters a path must encode. */
const newKey = (): string => `user/${++keys} ?#%é`;
const path = (...segments: string[]): string => `/${segments.map(encodeURIComponent).join("/")}`;

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

async function post(at: string, body?: string, headers: Record<string, string> = {}, base = url): Promise<Answer> {
  const response = await fetch(`${base}${at}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

const json = (value: unknown): string => JSON.stringify(value);

/** Writes a request by hand, so that it can stop half-way; resolves with what the server wrote and whether it closed. */
function rawRequest(base: string, head: string, body: string): { answer: Promise<string>; write(more: string): void } {
  const { hostname, port } = new URL(base);
  const socket = netConnect(Number(port), hostname);
  socket.write(`${head}\r\n\r\n${body}`);
  let received = "";
  socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
  return {
    write: (more) => socket.write(more),
    answer: new Promise((resolve, reject) => {
      socket.on("close", () => resolve(received));
      socket.on("error", reject);
    }),
  };
}

describe.each(modes)("$label", (mode) => {
  const cairn = useMode(mode);

  beforeAll(async () => {
    // The host's own ingress (option `ingress`) is checked once below; the rest use their own.
    const started = await cairn.start({ services, host: { partitions: 4, ingress: { port: 0 } } });
    host = started.host;
    invoker = targetInvoker(host.client);
    ingress = await ingressWith();
    url = ingress.url;
  });

  afterAll(async () => {
    for (const running of started.splice(0)) await running.close();
  });

  it("serves the host's own ingress (option ingress: { port: 0 }) on loopback", async () => {
    const own = host.ingressUrl ?? "";
    expect(own).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const key = newKey();
    expect(await post(path("Cart", key, "addItem"), json({ sku: "a", qty: 1 }), {}, own)).toMatchObject({ status: 200, body: { itemCount: 1 } });
  });

  describe("HTTP ingress: calls", () => {
    it("listens on loopback at the URL it reports", () => {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    });

    it("calls an object's handler with the JSON body and answers 200 with the JSON result", async () => {
      const key = newKey();
      expect(await post(path("Cart", key, "addItem"), json({ sku: "a", qty: 2 }))).toMatchObject({ status: 200, body: { itemCount: 1 } });
      expect(await post(path("Cart", key, "addItem"), json({ sku: "b", qty: 1 }))).toMatchObject({ status: 200, body: { itemCount: 2 } });
      const items = await post(path("Cart", key, "getItems"));
      expect(items).toMatchObject({ status: 200, body: [{ sku: "a", qty: 2 }, { sku: "b", qty: 1 }] });
      expect(items.headers.get("content-type")).toBe("application/json; charset=utf-8");
    });

    it("decodes path segments, so a key may hold any characters", async () => {
      for (const key of ["a/b", "with space", "50%", "?x=1#frag", "é🙂", ""]) {
        expect(await post(path("Cart", key, "key"))).toMatchObject({ status: 200, body: key });
      }
    });

    it("takes dot segments literally: the keys '.' and '..' are keys (fetch would resolve them away, a raw request does not)", async () => {
      for (const [segment, key] of [["%2E%2E", ".."], ["..", ".."], [".", "."]] as const) {
        const answer = await rawRequest(url, `POST /Cart/${segment}/key HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 0`, "").answer;
        expect(answer, segment).toMatch(/^HTTP\/1\.1 200 /);
        expect(answer.slice(answer.indexOf("\r\n\r\n") + 4), segment).toBe(json(key));
      }
    });

    it("calls a service's handler", async () => {
      expect(await post(path("Greeter", "greet"), json("Ada"))).toMatchObject({ status: 200, body: "hello Ada" });
    });

    it("answers null for a handler that returns undefined, and takes an empty body as no input", async () => {
      expect(await post(path("Cart", newKey(), "nothing"))).toMatchObject({ status: 200, body: null });
      expect(await post(path("Cart", newKey(), "nothing"), " \n")).toMatchObject({ status: 200, body: null });
      const missing = await post(path("Greeter", "greet"));
      expect(missing).toMatchObject({ status: 400, body: { code: 400 } });
      expect((missing.body as { message: string }).message).toMatch(/^Greeter\.greet: invalid input/);
    });

    it("reaches a handler named send, and sends to it with /send", async () => {
      expect(await post(path("Cart", newKey(), "send"))).toMatchObject({ status: 200, body: "the send handler" });
      expect(await post(path("Greeter", "send"))).toMatchObject({ status: 200, body: "the service's send handler" });
      expect((await post(`${path("Cart", newKey(), "send")}/send`)).status).toBe(202);
      expect((await post(`${path("Greeter", "send")}/send`)).status).toBe(202);
    });
  });

  describe("HTTP ingress: refusals", () => {
    it("answers 400 naming the handler for input failing its schema", async () => {
      const answer = await post(path("Cart", newKey(), "addItem"), json({ sku: "", qty: -1 }));
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: 400, message: expect.stringMatching(/^Cart\.addItem: invalid input: /) });
    });

    it("answers 400 for malformed JSON, a body that is not UTF-8 and input nested too deep", async () => {
      const malformed = await post(path("Cart", newKey(), "addItem"), "{sku:");
      expect(malformed).toMatchObject({ status: 400, body: { code: 400, message: expect.stringMatching(/^the request body is not valid JSON/) } });
      const latin1 = await fetch(`${url}${path("Greeter", "greet")}`, { method: "POST", body: new Uint8Array([0x22, 0xe9, 0x22]) });
      expect(latin1.status).toBe(400);
      expect(await latin1.json()).toEqual({ code: 400, message: "the request body is not valid UTF-8" });
      const deep = await post(path("Cart", newKey(), "nothing"), `${"[".repeat(5000)}${"]".repeat(5000)}`);
      expect(deep).toMatchObject({ status: 400, body: { code: 400 } });
    });

    it("answers 404 for an unknown object, service or handler, and for paths of no route", async () => {
      const notFound = async (at: string, message: RegExp) => {
        const answer = await post(at, json("x"));
        expect(answer, at).toMatchObject({ status: 404, body: { code: 404, message: expect.stringMatching(message) } });
      };
      await notFound(path("Nope", "k", "h"), /^unknown object or service "Nope" \(this host serves: Cart, Greeter\)$/);
      await notFound(path("Cart", "k", "nope"), /^Cart\.nope: unknown handler "nope"/);
      await notFound(path("Greeter", "nope"), /^Greeter\.nope: unknown handler "nope"/);
      await notFound(path("Cart", "onlyKey"), /Cart is an object, called as POST \/Cart\/\{key\}\/\{handler\}/);
      await notFound(`${path("Cart", "k", "addItem")}/other`, /Cart is an object/);
      await notFound(path("Greeter", "greet", "extra"), /Greeter is a service, called as POST \/Greeter\/\{handler\}/);
      await notFound(path("Greeter", "greet", "send", "send"), /Greeter is a service/);
      await notFound("/", /^no route/);
      await notFound("/Cart", /^no route/);
      await notFound("/a/b/c/d/e", /^no route/);
    });

    it("answers 405 with allow: POST for another method", async () => {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const response = await fetch(`${url}${path("Cart", newKey(), "getItems")}`, { method });
        expect(response.status, method).toBe(405);
        expect(response.headers.get("allow")).toBe("POST");
        expect(await response.json()).toEqual({ code: 405, message: `${method} is not allowed; use POST` });
      }
    });

    it("answers 400 for a path segment that is not valid percent-encoded UTF-8", async () => {
      for (const bad of ["%ZZ", "%E0%A4%A", "%ED%A0%80", "%"]) {
        const answer = await post(`/Cart/${bad}/getItems`);
        expect(answer, bad).toMatchObject({ status: 400, body: { code: 400, message: expect.stringContaining("not valid percent-encoded UTF-8") } });
      }
    });

    it("answers 400 for a key the host refuses (over 1024 bytes)", async () => {
      const answer = await post(path("Cart", "k".repeat(1025), "getItems"));
      expect(answer).toMatchObject({ status: 400, body: { code: 400, message: expect.stringMatching(/object key is over 1024 bytes/) } });
    });

    it("answers a TerminalError with its errorCode when that is 4xx/5xx, else 500, with its message", async () => {
      expect(await post(path("Cart", newKey(), "teapot"))).toMatchObject({ status: 418, body: { code: 418, message: "no coffee here" } });
      expect(await post(path("Cart", newKey(), "oddCode"))).toMatchObject({ status: 500, body: { code: 500, message: "code seven" } });
      expect(await post(path("Cart", newKey(), "empty"))).toMatchObject({ status: 500, body: { code: 500, message: "Cart is empty" } });
    });

    it("answers 504, saying the outcome is unknown, when the result does not come in time", async () => {
      const impatient = await ingressWith({ callTimeoutMs: 200 });
      const answer = await post(path("Cart", newKey(), "slow"), "1000", {}, impatient.url);
      expect(answer).toMatchObject({ status: 504, body: { code: 504, message: expect.stringMatching(/the outcome is unknown/) } });
    });

    it("answers 400 for an empty idempotency-key", async () => {
      expect(await post(path("Cart", newKey(), "bump"), undefined, { "idempotency-key": "" })).toMatchObject({ status: 400, body: { code: 400 } });
    });
  });

  describe("HTTP ingress: idempotency and sends", () => {
    it("answers every retry with the same idempotency-key with the first result, running the handler once", async () => {
      const key = newKey();
      const first = await post(path("Cart", key, "bump"), undefined, { "idempotency-key": "req-1" });
      expect(first).toMatchObject({ status: 200, body: { n: 1 } });
      const retries = await Promise.all([1, 2, 3].map(() => post(path("Cart", key, "bump"), undefined, { "idempotency-key": "req-1" })));
      for (const retry of retries) expect(retry.body).toEqual(first.body);
      expect(await post(path("Cart", key, "bump"), undefined, { "idempotency-key": "req-2" })).toMatchObject({ status: 200, body: { n: 2 } });
      expect(await post(path("Cart", key, "n"))).toMatchObject({ status: 200, body: 2 });
    });

    it("answers /send with 202 and the invocation id once accepted; the effect shows in a later call", async () => {
      const key = newKey();
      const sent = await post(`${path("Cart", key, "addItem")}/send`, json({ sku: "s", qty: 3 }));
      expect(sent.status).toBe(202);
      expect(sent.body).toEqual({ invocationId: expect.any(String) });
      expect(await eventually(async () => json((await post(path("Cart", key, "getItems"))).body) === json([{ sku: "s", qty: 3 }]), 10_000)).toBe(true);
    });

    it("answers a service's /send with 202, and its effect shows", async () => {
      const key = newKey();
      expect((await post(`${path("Greeter", "stock")}/send`, json({ key, sku: "via-service" }))).status).toBe(202);
      expect(await eventually(async () => json((await post(path("Cart", key, "getItems"))).body) === json([{ sku: "via-service", qty: 1 }]), 10_000)).toBe(true);
    });

    it("gives the same invocation id to a send retried with the same idempotency-key, and runs it once", async () => {
      const key = newKey();
      const at = `${path("Cart", key, "bump")}/send`;
      const first = await post(at, undefined, { "idempotency-key": "send-1" });
      const again = await post(at, undefined, { "idempotency-key": "send-1" });
      expect(first.status).toBe(202);
      expect(again.body).toEqual(first.body);
      expect(await eventually(async () => (await post(path("Cart", key, "n"))).body === 1, 10_000)).toBe(true);
      // A later call on the key is queued behind the sends: by its answer both have been handled.
      expect(await post(path("Cart", key, "bump"))).toMatchObject({ status: 200, body: { n: 2 } });
    });

    it("passes ?delayMs= to the invoker's send, and refuses a bad delay or a delay on a call", async () => {
      const seen: Array<number | undefined> = [];
      const recording: TargetInvoker = {
        call: (target, input, options) => invoker.call(target, input, options),
        send: (target, input, options) => (seen.push(options?.delayMs), invoker.send(target, input, options)),
      };
      const delayed = await ingressWith({ invoker: recording });
      const at = `${path("Cart", newKey(), "nothing")}/send`;
      expect((await post(`${at}?delayMs=250`, undefined, {}, delayed.url)).status).toBe(202);
      expect((await post(at, undefined, {}, delayed.url)).status).toBe(202);
      expect(seen).toEqual([250, undefined]);
      for (const bad of ["abc", "-1", "1.5", "", "1e3", "99999999999999999999"]) {
        const answer = await post(`${at}?delayMs=${bad}`, undefined, {}, delayed.url);
        expect(answer, bad).toMatchObject({ status: 400, body: { code: 400, message: expect.stringMatching(/^delayMs must be a whole number/) } });
      }
      expect(await post(`${path("Cart", newKey(), "nothing")}?delayMs=5`, undefined, {}, delayed.url)).toMatchObject({ status: 400, body: { code: 400 } });
      expect(await post(`${at}?other=1`, undefined, {}, delayed.url)).toMatchObject({ status: 400, body: { code: 400 } });
      expect(seen).toEqual([250, undefined]);
    });
  });

  describe("HTTP ingress: limits", () => {
    const twoMiB = json({ sku: "x".repeat(2 * 1024 * 1024), qty: 1 });

    it("answers 413 to a 2 MiB body, declared or chunked", async () => {
      const declared = await post(path("Cart", newKey(), "addItem"), twoMiB);
      expect(declared).toMatchObject({ status: 413, body: { code: 413, message: expect.stringMatching(/larger than the limit of 1048576 bytes/) } });
      const bytes = new TextEncoder().encode(twoMiB);
      const chunked = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 64 * 1024) controller.enqueue(bytes.subarray(at, at + 64 * 1024));
          controller.close();
        },
      });
      const response = await fetch(`${url}${path("Cart", newKey(), "addItem")}`, { method: "POST", body: chunked, duplex: "half" } as RequestInit);
      expect(response.status).toBe(413);
      expect(await response.json()).toMatchObject({ code: 413 });
    });

    it("closes a connection whose body stalls after the request timeout, while other requests are served", async () => {
      const strict = await ingressWith({ requestTimeoutMs: 500 });
      const startedAt = Date.now();
      const stalled = rawRequest(strict.url, `POST ${path("Cart", newKey(), "addItem")} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100`, '{"sku":');
      // Served while the stalled request holds its connection.
      expect(await post(path("Greeter", "greet"), json("B"), {}, strict.url)).toMatchObject({ status: 200, body: "hello B" });
      const answer = await stalled.answer;
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(Date.now() - startedAt).toBeLessThan(3000);
    });

    it("does not count the wait for a slow handler's result against the request timeout", async () => {
      const strict = await ingressWith({ requestTimeoutMs: 300 });
      expect(await post(path("Cart", newKey(), "slow"), "1200", {}, strict.url)).toMatchObject({ status: 200, body: 1200 });
    });

    it("keeps serving other keys while bad requests come in", async () => {
      const bad = [
        post(path("Cart", newKey(), "addItem"), twoMiB),
        post(path("Cart", newKey(), "addItem"), "{nope"),
        post("/Cart/%E0%A4%A/addItem", json({ sku: "a", qty: 1 })),
        post(path("Cart", newKey(), "addItem"), json({ sku: 5 })),
        post(path("Nope", "k", "h")),
        post(path("Cart", newKey(), "teapot")),
      ];
      const stalled = rawRequest(url, `POST ${path("Cart", newKey(), "addItem")} HTTP/1.1\r\nhost: x\r\ncontent-length: 100`, "{");
      const good = Array.from({ length: 10 }, async (_, i) => {
        const key = newKey();
        const added = await post(path("Cart", key, "addItem"), json({ sku: `g${i}`, qty: 1 }));
        return [added, await post(path("Cart", key, "getItems"))];
      });
      expect((await Promise.all(bad)).map((answer) => answer.status)).toEqual([413, 400, 400, 400, 404, 418]);
      for (const [added, items] of await Promise.all(good)) {
        expect(added).toMatchObject({ status: 200, body: { itemCount: 1 } });
        expect((items?.body as Item[]).length).toBe(1);
      }
      void stalled.answer.catch(() => undefined);
    });
  });

  describe("HTTP ingress: close", () => {
    it("lets a request in flight answer, ends keep-alive connections and refuses new ones", async () => {
      const closing = await startIngress({ invoker, registry: new Registry(services), port: 0, maxPayloadBytes: 1024, logger: silent });
      // A keep-alive connection left idle in fetch's pool.
      expect((await post(path("Greeter", "greet"), json("K"), {}, closing.url)).status).toBe(200);
      const inFlight = post(path("Cart", newKey(), "slow"), "300", {}, closing.url);
      await sleep(100);
      const startedAt = Date.now();
      await closing.close();
      expect(Date.now() - startedAt).toBeLessThan(2000);
      expect(await inFlight).toMatchObject({ status: 200, body: 300 });
      await expect(fetch(`${closing.url}${path("Greeter", "greet")}`, { method: "POST", body: json("L") })).rejects.toThrow();
      await closing.close();
    });

    it("cuts a request still sending its body at once, without sending it", async () => {
      const closing = await startIngress({ invoker, registry: new Registry(services), port: 0, maxPayloadBytes: 1024, logger: silent });
      const key = newKey();
      const stalled = rawRequest(closing.url, `POST ${path("Cart", key, "addItem")} HTTP/1.1\r\nhost: x\r\ncontent-length: 100`, '{"sku":"half"');
      await sleep(100);
      const startedAt = Date.now();
      await closing.close();
      expect(Date.now() - startedAt).toBeLessThan(500);
      expect(await stalled.answer).toBe("");
      expect(await post(path("Cart", key, "getItems"))).toMatchObject({ status: 200, body: [] });
    });

    it("answers 503 to a request whose body completes while it closes, without sending it", async () => {
      const closing = await startIngress({ invoker, registry: new Registry(services), port: 0, maxPayloadBytes: 1024, logger: silent });
      const key = newKey();
      const inFlight = post(path("Cart", newKey(), "slow"), "500", {}, closing.url);
      const body = json({ sku: "late", qty: 1 });
      const late = rawRequest(closing.url, `POST ${path("Cart", key, "addItem")} HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}`, body.slice(0, 5));
      await sleep(100);
      const closed = closing.close();
      late.write(body.slice(5));
      expect(await late.answer).toMatch(/^HTTP\/1\.1 503 /);
      expect(await inFlight).toMatchObject({ status: 200, body: 500 });
      await closed;
      expect(await post(path("Cart", key, "getItems"))).toMatchObject({ status: 200, body: [] });
    });

    it("closes at once with no requests in flight, even with idle keep-alive connections", async () => {
      const closing = await startIngress({ invoker, registry: new Registry(services), port: 0, maxPayloadBytes: 1024, logger: silent });
      await Promise.all([1, 2, 3].map((i) => post(path("Greeter", "greet"), json(`K${i}`), {}, closing.url)));
      const startedAt = Date.now();
      await closing.close();
      expect(Date.now() - startedAt).toBeLessThan(500);
    });
  });
});
