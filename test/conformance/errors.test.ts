import { beforeEach, describe, expect, it } from "vitest";
import { type ThrownKind, attempts, hostile, thrownValues } from "../fixtures/hostile.js";
import { terminalError } from "../helpers/expect.js";
import { modes, useMode } from "../helpers/modes.js";

const terminal = async (promise: Promise<unknown>) => (await terminalError(promise)).message;

const PLAIN_DATA = "only plain data (objects, arrays, strings, numbers, booleans, null, Uint8Array, Date, bigint) can be stored or sent";

describe.each(modes)("$label", (mode) => {
  // Short: before the fix these calls never got an answer, and the test should say so quickly.
  const h = useMode(mode).sharedHost({ services: [hostile], host: { partitions: 2 }, clientTimeoutMs: 8_000 });

  // Counted per process: both modes run in this one.
  beforeEach(() => attempts.clear());

  describe("whatever a handler throws goes through the retry policy", () => {
    it.each(Object.keys(thrownValues) as ThrownKind[])("a handler throwing %s fails terminally after exactly maxAttempts, and the key keeps working", async (kind) => {
      const key = `thrown-${kind}`;
      const message = await terminal(h.client.objectClient(hostile, key).throwValue(kind));
      expect(message).toMatch(/^Hostile\.throwValue: failed after 3 attempts: /);
      expect(attempts.get(`${kind}:${key}`)).toBe(3);
      expect(await h.client.objectClient(hostile, key).keys()).toEqual([]);
      expect(await h.client.objectClient(hostile, key).echo({ still: "working" })).toEqual({ still: "working" });
    });

    it("describes a null-prototype object and an Error whose message getter throws without throwing", async () => {
      expect(await terminal(h.client.objectClient(hostile, "describe-null").throwValue("null-prototype"))).toBe(
        "Hostile.throwValue: failed after 3 attempts: object: (an object that cannot be converted to a string)",
      );
      expect(await terminal(h.client.objectClient(hostile, "describe-getter").throwValue("message-getter"))).toBe(
        "Hostile.throwValue: failed after 3 attempts: Error: (its message getter threw Error: the message getter threw)",
      );
    });

    it("retries a returned thenable whose then throws, and a hostile value thrown under timeoutMs, maxAttempts times", async () => {
      expect(await terminal(h.client.objectClient(hostile, "then").throwingThen())).toMatch(/^Hostile\.throwingThen: failed after 3 attempts: Error: /);
      expect(attempts.get("throwingThen:then")).toBe(3);
      expect(await terminal(h.client.objectClient(hostile, "timeout").throwWithTimeout())).toMatch(/^Hostile\.throwWithTimeout: failed after 3 attempts: /);
      expect(attempts.get("throwWithTimeout:timeout")).toBe(3);
    });
  });

  describe("values msgpack would change are refused", () => {
    it("refuses a result that is a function, naming it", async () => {
      expect(await terminal(h.client.objectClient(hostile, "result-fn").returnFunction())).toBe(
        `Hostile.returnFunction: the result: result is a function; ${PLAIN_DATA}`,
      );
    });

    it("refuses a result with a function field, committing nothing", async () => {
      expect(await terminal(h.client.objectClient(hostile, "result-field").returnComputeField())).toBe(
        `Hostile.returnComputeField: the result: result.compute is a function; ${PLAIN_DATA}`,
      );
      expect(await h.client.objectClient(hostile, "result-field").keys()).toEqual([]);
    });

    // A TerminalError ends the invocation with the writes made before it (API.md, "Context").
    it("refuses ctx.set of a function at the call; the writes before it commit with the failure", async () => {
      expect(await terminal(h.client.objectClient(hostile, "set-fn").setFunction())).toBe(`ctx.set("fn", value): value is a function; ${PLAIN_DATA}`);
      expect(await h.client.objectClient(hostile, "set-fn").keys()).toEqual(["partial"]);
    });

    it("keeps a state value as it was at ctx.set: changing it afterwards changes nothing", async () => {
      await h.client.objectClient(hostile, "mutated").mutateAfterSet();
      expect(await h.client.objectClient(hostile, "mutated").read("items")).toEqual([{ sku: "a" }]);
    });

    it("refuses a send whose input is a Map at the call, sending nothing", async () => {
      expect(await terminal(h.client.objectClient(hostile, "send-map").sendFunction())).toBe(
        `the input of the send to Hostile/send-map-target/record: input.at is a Map (msgpack turns it into a plain object); ${PLAIN_DATA}`,
      );
      expect(await h.client.objectClient(hostile, "send-map").keys()).toEqual(["partial"]);
      expect(await h.client.objectClient(hostile, "send-map-target").keys()).toEqual([]);
    });

    it("refuses a client call whose input holds a function or a class instance, before publishing", async () => {
      const echo = h.client.objectClient(hostile, "client-input").echo;
      expect((await terminalError(echo({ g: () => 1 }))).errorCode).toBe(400);
      expect(await terminal(echo({ f: () => 1 }))).toBe(`Hostile/client-input/echo: the input: input.f is a function; ${PLAIN_DATA}`);
      class Money {
        constructor(readonly cents: number) {}
      }
      expect(await terminal(echo([new Money(1)]))).toBe(
        `Hostile/client-input/echo: the input: input[0] is an instance of Money (msgpack keeps only its own fields); ${PLAIN_DATA}`,
      );
      expect(await terminal(h.client.objectSendClient(hostile, "client-input").echo({ s: new Set([1]) }))).toMatch(/^Hostile\/client-input\/echo: the input: input\.s is a Set/);
    });

    it("keeps plain data exactly as it was sent", async () => {
      const value = { n: 1.5, big: 2n ** 63n, when: new Date(1_700_000_000_000), bytes: new Uint8Array([1, 2]), list: [null, true, "x", undefined], nested: { a: [] } };
      const back = (await h.client.objectClient(hostile, "plain").echo(value)) as typeof value;
      expect({ ...back, bytes: [...back.bytes] }).toEqual({ ...value, bytes: [1, 2] });
    });
  });
});
