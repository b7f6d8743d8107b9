import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RetryableError, TerminalError } from "cairn";
import { describeThrown } from "../sdk/internal.js";
import { DEFAULT_RETRY_POLICY, type FailureAction, classifyFailure, terminalOutcome } from "../runtime/invoke/index.js";
import { thrownValues } from "./fixtures/hostile.js";

const policy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, initialIntervalMs: 10, nonRetryableErrors: ["Oops"] };

function throwingGetter<T extends object>(target: T, property: string): T {
  Object.defineProperty(target, property, {
    get() {
      throw new Error(`${property} getter threw`);
    },
  });
  return target;
}

function failureMessage(action: FailureAction): string {
  if (action.type !== "fail" || action.outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(action)}`);
  return action.outcome.error.message;
}

describe("describeThrown", () => {
  it("describes every hostile value without throwing", () => {
    const described = Object.fromEntries(Object.entries(thrownValues).map(([kind, make]) => [kind, describeThrown(make())]));
    expect(described).toEqual({
      "null-prototype": { name: "object", message: "(an object that cannot be converted to a string)" },
      "message-getter": { name: "Error", message: "(its message getter threw Error: the message getter threw)" },
      "name-getter": { name: "Error", message: "hidden" },
      "proxy-throwing-on-every-trap": { name: "object", message: "(an object that cannot be converted to a string)" },
      "error-proxy-throwing-on-every-trap": { name: "object", message: "(an object that cannot be converted to a string)" },
      "throwing-toString": { name: "object", message: "(an object that cannot be converted to a string)" },
      undefined: { name: "undefined", message: "undefined" },
      null: { name: "object", message: "null" },
      number: { name: "number", message: "42" },
      symbol: { name: "symbol", message: "Symbol(thrown)" },
      bigint: { name: "bigint", message: "1000000000000000000000000000000" },
    });
  });

  it("does not recurse into a message getter whose error's message getter throws", () => {
    const inner = throwingGetter(new Error("inner"), "message");
    const outer = new Error("outer");
    Object.defineProperty(outer, "message", {
      get() {
        throw inner;
      },
    });
    expect(describeThrown(outer)).toEqual({ name: "Error", message: "(its message getter threw Error: (its message getter threw))" });
  });

  it("bounds the message and never cuts a surrogate pair", () => {
    const long = describeThrown(new Error(`${"x".repeat(8_191)}😀${"y".repeat(10_000)}`));
    expect(long.message.startsWith(`${"x".repeat(8_191)}…`)).toBe(true);
    expect(long.message.endsWith("(10002 more characters)")).toBe(true);
    expect(describeThrown({ name: "n".repeat(1_000) } as Error).name).toBe("object");
    const named = new Error("m");
    named.name = "N".repeat(1_000);
    expect(describeThrown(named).name.length).toBeLessThan(300);
  });
});

describe("classifyFailure with hostile values", () => {
  it.each(Object.keys(thrownValues) as Array<keyof typeof thrownValues>)("retries %s, then fails after maxAttempts", (kind) => {
    expect(classifyFailure(thrownValues[kind](), 1, policy, "A.b")).toEqual({ type: "retry", delayMs: 10 });
    expect(failureMessage(classifyFailure(thrownValues[kind](), 3, policy, "A.b"))).toMatch(/^A\.b: failed after 3 attempts: /);
  });

  it("matches nonRetryableErrors by the safe name, and a name that cannot be read never matches", () => {
    class Oops extends Error {
      override name = "Oops";
    }
    expect(failureMessage(classifyFailure(new Oops("no"), 1, policy, "A.b"))).toBe("A.b: Oops: no");
    expect(classifyFailure(throwingGetter(new Oops("no"), "name"), 1, policy, "A.b")).toEqual({ type: "retry", delayMs: 10 });
  });

  it("fails a TerminalError whose getters throw with a readable outcome", () => {
    const error = throwingGetter(throwingGetter(new TerminalError("x", { errorCode: 409 }), "message"), "errorCode");
    expect(classifyFailure(error, 1, policy, "A.b")).toEqual({
      type: "fail",
      outcome: { ok: false, error: { name: "TerminalError", message: "(its message getter threw Error: message getter threw)", code: 500 } },
    });
    expect(terminalOutcome(new TerminalError("y", { errorCode: 409 }))).toEqual({ ok: false, error: { name: "TerminalError", message: "y", code: 409 } });
  });

  it("backs off normally when a RetryableError's retryAfterMs cannot be read or is not a delay", () => {
    expect(classifyFailure(throwingGetter(new RetryableError("later", { retryAfterMs: 5 }), "retryAfterMs"), 1, policy, "A.b")).toEqual({
      type: "retry",
      delayMs: 10,
    });
    expect(classifyFailure(new RetryableError("later", { retryAfterMs: Number.NaN }), 1, policy, "A.b")).toEqual({ type: "retry", delayMs: 10 });
    expect(classifyFailure(new RetryableError("later", { retryAfterMs: 5 }), 1, policy, "A.b")).toEqual({ type: "retry", delayMs: 5 });
  });

  it("never throws, whatever was thrown (property, fixed seed)", () => {
    const anything = fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withNullPrototype: true, withSet: true, withTypedArray: true });
    fc.assert(
      fc.property(anything, fc.integer({ min: 1, max: 4 }), (thrown, attempt) => {
        const action = classifyFailure(thrown, attempt, policy, "A.b");
        expect(action.type === "fail" || action.type === "retry").toBe(true);
        if (action.type === "fail" && !action.outcome.ok) expect(typeof action.outcome.error.message).toBe("string");
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});
