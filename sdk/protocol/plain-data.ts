import { describeThrown } from "../describe-thrown.js";
import { TerminalError } from "../errors.js";

/** What may be stored or sent: each of these comes back from msgpack as it went in. */
export const PLAIN_DATA_RULE =
  "only plain data (objects, arrays, strings, numbers, booleans, null, Uint8Array, Date, bigint) can be stored or sent";

/** Deeper values overflow msgpackr's recursion (near 2,000 levels); refused with a path instead. */
export const MAX_PLAIN_DATA_DEPTH = 1_000;

const MIN_INT64 = -(2n ** 63n);
const MAX_UINT64 = 2n ** 64n - 1n;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MAX_KEY_CHARS_SHOWN = 64;
const MAX_SEGMENTS_SHOWN = 32;

// String.prototype.isWellFormed is in Node 20, but not in the ES2023 lib this project compiles
// against. Called as a method: through `.call` it costs half the check of a typical value.
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

interface Problem {
  /** From the offending part up to the root: built only on failure, as the recursion unwinds. */
  reversedPath: Array<string | number>;
  reason: string;
}

/**
 * Throws a `TerminalError` naming the first part of `value` that msgpack would drop or change:
 * a function, a symbol, a class instance, a Map or Set, a typed array other than Uint8Array, a
 * cycle, a string with a lone surrogate, a bigint beyond 64 bits. `what` says whose value it is,
 * `root` names the value in the path (`result.items[2].compute`). `errorCode`: 400 for a caller's
 * input, the default (500) for what a handler produced.
 *
 * Accepted and unchanged by the round trip: null, undefined, booleans, numbers (-0 comes back as
 * 0), bigints in [-2^63, 2^64), well-formed strings, Uint8Array and Buffer (both come back as Buffer), Date,
 * arrays, and objects whose prototype is Object.prototype or null (they come back with
 * Object.prototype). Symbol keys, non-enumerable properties and extra properties of arrays are
 * not looked at: like JSON, msgpack drops them, and looking costs more than the rest of the check.
 */
export function checkPlainData(value: unknown, what: string, root: string, errorCode?: number): void {
  const problem = problemOf(value, [], 0);
  if (problem !== undefined) {
    throw new TerminalError(`${what}: ${formatPath(root, problem.reversedPath)} ${problem.reason}; ${PLAIN_DATA_RULE}`, { errorCode });
  }
}

function problemOf(value: unknown, ancestors: object[], depth: number): Problem | undefined {
  switch (typeof value) {
    case "undefined":
    case "boolean":
    case "number":
      return undefined;
    case "string":
      return isWellFormed(value) ? undefined : at("is a string with a lone surrogate (msgpack's UTF-8 replaces it with U+FFFD)");
    case "bigint":
      return value >= MIN_INT64 && value <= MAX_UINT64 ? undefined : at("is a bigint outside the 64-bit range msgpack encodes");
    case "function":
      return at("is a function");
    case "symbol":
      return at("is a symbol");
    case "object":
      return value === null ? undefined : objectProblem(value, ancestors, depth);
    default:
      return at(`is a ${typeof value}`);
  }
}

function objectProblem(value: object, ancestors: object[], depth: number): Problem | undefined {
  // A Proxy trap may throw (a getter is caught where its field is read, to name the field).
  try {
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype === Object.prototype || prototype === null || prototype === Array.prototype) {
      if (ancestors.includes(value)) return at("refers back to an enclosing value (a cycle)");
      if (depth >= MAX_PLAIN_DATA_DEPTH) return at(`is nested deeper than ${MAX_PLAIN_DATA_DEPTH} levels`);
      ancestors.push(value);
      const problem = prototype === Array.prototype ? arrayProblem(value as unknown[], ancestors, depth) : fieldsProblem(value, ancestors, depth);
      ancestors.pop();
      return problem;
    }
    if (prototype === Uint8Array.prototype || prototype === Buffer.prototype || prototype === Date.prototype) return undefined;
    if (value instanceof Map) return at("is a Map (msgpack turns it into a plain object)");
    if (value instanceof Set) return at("is a Set (msgpack turns it into an array)");
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return at(`is binary data of type ${className(prototype)} (msgpack turns it into a Buffer; only Uint8Array is kept as it is)`);
    return at(`is an instance of ${className(prototype)} (msgpack keeps only its own fields)`);
  } catch (error) {
    return unreadable(error);
  }
}

function arrayProblem(array: unknown[], ancestors: object[], depth: number): Problem | undefined {
  for (let i = 0; i < array.length; i++) {
    const problem = problemOf(array[i], ancestors, depth + 1);
    if (problem !== undefined) return (problem.reversedPath.push(i), problem);
  }
  return undefined;
}

function fieldsProblem(object: object, ancestors: object[], depth: number): Problem | undefined {
  for (const key of Object.keys(object)) {
    if (!isWellFormed(key)) return at("is a key with a lone surrogate (msgpack's UTF-8 replaces it with U+FFFD)", key);
    if (key === "__proto__") return at("is a key msgpack does not keep as it is", key);
    let field: unknown;
    try {
      field = (object as Record<string, unknown>)[key];
    } catch (error) {
      return unreadable(error, key);
    }
    const problem = problemOf(field, ancestors, depth + 1);
    if (problem !== undefined) return (problem.reversedPath.push(key), problem);
  }
  return undefined;
}

function unreadable(error: unknown, key?: string): Problem {
  const { name, message } = describeThrown(error);
  return at(`cannot be read (${name}: ${message})`, key);
}

function at(reason: string, key?: string): Problem {
  return { reversedPath: key === undefined ? [] : [key], reason };
}

function className(prototype: unknown): string {
  try {
    const name: unknown = (prototype as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    return typeof name === "string" && name.length > 0 ? name.slice(0, MAX_KEY_CHARS_SHOWN) : "an anonymous class";
  } catch {
    return "an unknown class";
  }
}

function formatPath(root: string, reversedPath: Array<string | number>): string {
  const segments = reversedPath.map(formatSegment).reverse();
  // A path hundreds of levels deep is shown by its two ends.
  const half = MAX_SEGMENTS_SHOWN / 2;
  const shown = segments.length > MAX_SEGMENTS_SHOWN ? [...segments.slice(0, half), "…", ...segments.slice(-half)] : segments;
  return root + shown.join("");
}

function formatSegment(segment: string | number): string {
  if (typeof segment === "number") return `[${segment}]`;
  if (IDENTIFIER.test(segment) && segment.length <= MAX_KEY_CHARS_SHOWN) return `.${segment}`;
  return `[${JSON.stringify(segment.length <= MAX_KEY_CHARS_SHOWN ? segment : `${segment.slice(0, MAX_KEY_CHARS_SHOWN)}…`)}]`;
}
