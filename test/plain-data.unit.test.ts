import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TerminalError } from "cairn";
import { PLAIN_DATA_RULE, checkPlainData, decode, encode, encodeData } from "../sdk/internal.js";

function refusal(value: unknown, what = "A.b: the result", root = "result"): string {
  try {
    checkPlainData(value, what, root);
  } catch (error) {
    expect(error).toBeInstanceOf(TerminalError);
    return (error as Error).message;
  }
  throw new Error("expected checkPlainData to refuse the value");
}

class Money {
  constructor(readonly cents: number) {}
}

/** The form both sides of a round trip must share: what msgpack is allowed to normalise. */
function normalise(value: unknown): unknown {
  if (typeof value === "number") return Object.is(value, -0) ? 0 : value;
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (value instanceof Date) return { date: value.getTime() };
  if (Array.isArray(value)) return Array.from({ length: value.length }, (_, i) => normalise(value[i]));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.keys(value).map((key) => [key, normalise((value as Record<string, unknown>)[key])]));
  }
  return value;
}

describe("checkPlainData", () => {
  it("names the path of what msgpack would drop or change", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    let deep: unknown = 1;
    for (let i = 0; i < 1001; i++) deep = { d: deep };
    const cases: Array<[unknown, string]> = [
      [() => 1, "result is a function"],
      [{ total: 3, compute: () => 3 }, "result.compute is a function"],
      [[1, Symbol("s")], "result[1] is a symbol"],
      [{ "a b": [{ f() {} }] }, 'result["a b"][0].f is a function'],
      [{ at: new Map() }, "result.at is a Map (msgpack turns it into a plain object)"],
      [new Set([1]), "result is a Set (msgpack turns it into an array)"],
      [{ price: new Money(1) }, "result.price is an instance of Money (msgpack keeps only its own fields)"],
      [new Uint16Array(2), "result is binary data of type Uint16Array (msgpack turns it into a Buffer; only Uint8Array is kept as it is)"],
      [new ArrayBuffer(2), "result is binary data of type ArrayBuffer"],
      [/re/, "result is an instance of RegExp (msgpack keeps only its own fields)"],
      [new Error("x"), "result is an instance of Error (msgpack keeps only its own fields)"],
      [cyclic, "result.self refers back to an enclosing value (a cycle)"],
      [{ s: "lone\uD800" }, "result.s is a string with a lone surrogate (msgpack's UTF-8 replaces it with U+FFFD)"],
      [{ "k\uDC00": 1 }, 'result["k\\udc00"] is a key with a lone surrogate'],
      [JSON.parse('{"__proto__": {"x": 1}}'), 'result.__proto__ is a key msgpack does not keep as it is'],
      [2n ** 64n, "result is a bigint outside the 64-bit range msgpack encodes"],
      [[-(2n ** 63n) - 1n], "result[0] is a bigint outside the 64-bit range msgpack encodes"],
      [deep, "is nested deeper than 1000 levels"],
      [
        {
          get bad() {
            throw new Error("boom");
          },
        },
        "result.bad cannot be read (Error: boom)",
      ],
      [new Proxy({}, { getPrototypeOf: () => { throw new Error("trap"); } }), "result cannot be read (Error: trap)"],
    ];
    for (const [value, expected] of cases) {
      const message = refusal(value);
      expect(message.startsWith("A.b: the result: ")).toBe(true);
      expect(message).toContain(expected);
      expect(message.endsWith(`; ${PLAIN_DATA_RULE}`)).toBe(true);
    }
  });

  it("shows a very deep path by its two ends", () => {
    let deep: unknown = () => 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(refusal(deep)).toBe(`A.b: the result: result${"[0]".repeat(16)}…${"[0]".repeat(16)} is a function; ${PLAIN_DATA_RULE}`);
  });

  it("accepts plain data, shared references included, and each comes back the same", () => {
    const shared = { sku: "a" };
    const nullPrototype = Object.assign(Object.create(null) as object, { a: 1 });
    const values: unknown[] = [
      null,
      undefined,
      true,
      0,
      -0,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2n ** 64n - 1n,
      -(2n ** 63n),
      "é😀",
      new Uint8Array([1, 2]),
      Buffer.from("hi"),
      new Date(1_700_000_000_123),
      nullPrototype,
      [undefined, null],
      { a: undefined },
      [shared, shared],
      { nested: { list: [{ deep: [1, "x", false] }] } },
    ];
    for (const value of values) {
      expect(() => checkPlainData(value, "A.b: the result", "result")).not.toThrow();
      expect(normalise(decode(encodeData(value, "A.b: the result", "result")))).toStrictEqual(normalise(value));
    }
  });

  it("accepts only what survives a msgpack round trip (property, fixed seed)", () => {
    const arbitrary = fc.anything({
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withNullPrototype: true,
      withObjectString: true,
      withSet: true,
      withTypedArray: true,
      withSparseArray: true,
      withUnicodeString: true,
    });
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(arbitrary, (value) => {
        let ok = true;
        try {
          checkPlainData(value, "A.b: the result", "result");
        } catch (error) {
          expect(error).toBeInstanceOf(TerminalError);
          ok = false;
        }
        if (ok) {
          accepted++;
          expect(normalise(decode(encode(value)))).toStrictEqual(normalise(value));
        } else {
          refused++;
        }
      }),
      { seed: 20_260_501, numRuns: 500 },
    );
    // Both sides of the property were exercised.
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });
});
