/** The name and message of a thrown value, safe to store, send and log. */
export interface ThrownDescription {
  /** `error.name` for an `Error`, else the `typeof` the value (`"object"`, `"string"`, ...). */
  name: string;
  message: string;
}

const MAX_NAME_CHARS = 256;
const MAX_MESSAGE_CHARS = 8_192;

/**
 * Describes anything a handler may throw, without ever throwing itself: a getter that throws, a
 * Proxy that throws on every trap, an object without `toString` or a symbol must not turn a
 * handler's failure into a failure of the runtime that handles it. Bounded, because the message
 * is stored with the invocation's outcome and sent to the caller.
 */
export function describeThrown(thrown: unknown): ThrownDescription {
  return describe(thrown, true);
}

function describe(thrown: unknown, explainInner: boolean): ThrownDescription {
  if (!isError(thrown)) return { name: typeof thrown, message: bounded(stringOf(thrown), MAX_MESSAGE_CHARS) };
  const name = read(thrown, "name");
  const message = read(thrown, "message");
  return {
    name: name.type === "value" && typeof name.value === "string" ? bounded(name.value, MAX_NAME_CHARS) : "Error",
    message: bounded(messageOf(message, explainInner), MAX_MESSAGE_CHARS),
  };
}

function messageOf(message: Read, explainInner: boolean): string {
  if (message.type === "threw") {
    if (!explainInner) return "(its message getter threw)";
    const inner = describe(message.threw, false);
    return `(its message getter threw ${inner.name}: ${bounded(inner.message, MAX_NAME_CHARS)})`;
  }
  return typeof message.value === "string" ? message.value : stringOf(message.value);
}

function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false; // a Proxy whose getPrototypeOf trap throws
  }
}

type Read = { type: "value"; value: unknown } | { type: "threw"; threw: unknown };

function read(error: Error, property: "name" | "message"): Read {
  try {
    return { type: "value", value: error[property] };
  } catch (threw) {
    return { type: "threw", threw };
  }
}

function stringOf(value: unknown): string {
  try {
    return String(value);
  } catch {
    return `(${typeof value === "object" ? "an object" : "a function"} that cannot be converted to a string)`;
  }
}

function bounded(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  // Never cut a surrogate pair in two: a lone half would not survive msgpack's UTF-8.
  const end = isHighSurrogate(text.charCodeAt(maxChars - 1)) ? maxChars - 1 : maxChars;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
