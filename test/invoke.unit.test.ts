import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { encode } from "../sdk/internal.js";
import { DEFAULT_RETRY_POLICY, type InvocationScope, Registry, invoke } from "../runtime/invoke/index.js";
import { type ThrownKind, hostile, thrownValues } from "./fixtures/hostile.js";

/** A real pino logger at warn level writing into memory: its error serializer runs on every retry. */
function capturingScope(): { scope: InvocationScope; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const log = pino({ level: "warn" }, stream);
  const scope: InvocationScope = {
    partition: 0,
    target: { type: "object", name: "Hostile", key: "k", handler: "throwValue" },
    heldKeys: ["Hostile/k"],
    invocationId: "inv_test",
    kind: "exclusive",
    key: "k",
    log,
    readStateBytes: () => undefined,
    readStateKeys: () => [],
    now: () => Date.now(),
    waitUntil: async () => undefined,
    commit: async () => undefined,
    awaitEntry: () => new Promise(() => undefined),
    readPromise: () => undefined,
    promiseChanged: () => new Promise(() => undefined),
    workflow: false,
    alwaysReplay: false,
    stepRunning: () => undefined,
    journal: new Map(),
    failedAttempts: 0,
    durable: false,
    cancelPending: false,
    paused: false,
    nextAttemptAtMs: undefined,
    waitForControl: () => new Promise(() => undefined),
    backoff: async () => undefined,
    whenKilled: () => new Promise(() => undefined),
    killed: false,
  };
  return { scope, lines };
}

const handler = new Registry([hostile]).resolve({ type: "object", name: "Hostile", key: "k", handler: "throwValue" });
const options = { maxPayloadBytes: 1_000_000, retryPolicy: DEFAULT_RETRY_POLICY, signal: new AbortController().signal };

describe("invoke", () => {
  it.each(Object.keys(thrownValues) as ThrownKind[])("logs each retry of a handler throwing %s and fails after maxAttempts", async (kind) => {
    if (!("fn" in handler)) throw handler;
    const { scope, lines } = capturingScope();
    const result = await invoke(handler, encode(kind), scope, options);
    expect(result.attempts).toBe(3);
    expect(result.outcome).toMatchObject({ ok: false, error: { name: "TerminalError", code: 500 } });
    expect(result.effects).toBeUndefined();
    expect(lines.map((line) => [line.msg, line.attempt])).toEqual([
      ["handler failed; retrying", 1],
      ["handler failed; retrying", 2],
    ]);
  });

  it("logs the raw error when pino can serialize it, and the described one when it cannot", async () => {
    if (!("fn" in handler)) throw handler;
    const raw = capturingScope();
    await invoke(handler, encode("number"), raw.scope, options);
    expect(raw.lines[0]).toMatchObject({ err: 42 });
    const described = capturingScope();
    await invoke(handler, encode("message-getter"), described.scope, options);
    expect(described.lines[0]).toMatchObject({ error: { name: "Error", message: "(its message getter threw Error: the message getter threw)" } });
  });
});
