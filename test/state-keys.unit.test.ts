import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StateKeyError } from "../runtime/errors.js";
import { type StateKey, decodeStateKey, encodeStateKey } from "../runtime/store/index.js";

const part = fc.oneof(fc.string({ unit: fc.constantFrom("a", "\u0000", "\uFEFF", "\uFFFF", "\u{10FFFF}"), maxLength: 80 }), fc.string({ unit: "binary", maxLength: 80 }));
const stateKey = fc.record({ partition: fc.integer({ min: 0, max: 0xffffffff }), object: part, key: part, name: part });

describe("state keys", () => {
  it("decode to exactly the strings they were made of", () => {
    fc.assert(
      fc.property(stateKey, (k) => {
        expect(decodeStateKey(encodeStateKey(k))).toEqual(k);
      }),
      { seed: 11, numRuns: 500 },
    );
  });

  it("differ for different entries, NUL and prefixes included", () => {
    const same = (a: StateKey, b: StateKey) => a.partition === b.partition && a.object === b.object && a.key === b.key && a.name === b.name;
    fc.assert(
      fc.property(stateKey, stateKey, (a, b) => {
        expect(Buffer.compare(encodeStateKey(a), encodeStateKey(b)) === 0).toBe(same(a, b));
      }),
      { seed: 12, numRuns: 500, examples: [[{ partition: 1, object: "P", key: "victim", name: "list" }, { partition: 1, object: "P", key: `victim\u0000${"a".repeat(64)}`, name: "list" }]] },
    );
  });

  it("refuse a string with a lone surrogate, which UTF-8 would turn into U+FFFD", () => {
    const encode = () => encodeStateKey({ partition: 0, object: "P", key: "k", name: "a\uDC00" });
    expect(encode).toThrow(StateKeyError);
    expect(encode).toThrow("the state name holds a lone surrogate at index 1 and has no UTF-8 form");
    expect(() => encodeStateKey({ partition: 0, object: "P", key: "lone\uD800", name: "n" })).toThrow("the object key holds a lone surrogate at index 4");
  });

  it("refuse bytes they did not produce", () => {
    expect(() => decodeStateKey(new Uint8Array([0, 0, 0, 1, 0, 5, 97]))).toThrow(StateKeyError);
    expect(() => decodeStateKey(new Uint8Array([0, 0, 0, 1, 0, 1, 0xff, 0, 0, 0, 0]))).toThrow("a state key holds bytes that are not UTF-8");
  });
});
