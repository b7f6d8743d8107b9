import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect as natsConnect } from "nats";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CairnClient, connect } from "cairn/client";
import { ConfigError, type Host, startHost } from "cairn/runtime";
import { echo, observed, probe } from "./fixtures/probe.js";
import { encode, envelopeHeaders, newInvocationId, partitionOf } from "../sdk/internal.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";
import { terminalError } from "./helpers/expect.js";
import { startFixtureProcess } from "./helpers/host-process.js";

const terminal = async (promise: Promise<unknown>) => (await terminalError(promise)).message;


let nats: NatsServer;
let host: Host;
let client: CairnClient;
let namespace: string;

beforeAll(async () => {
  nats = await startNatsServer();
  namespace = uniqueNamespace();
  host = await startHost({ services: [probe, echo], dataDir: tempDir(), nats: { servers: nats.url }, namespace, partitions: 4, logLevel: "silent" });
  client = await connect({ servers: nats.url, namespace });
});

afterAll(async () => {
  await client?.close();
  await host?.close();
  await nats?.stop();
});


describe("startHost options", () => {
  it("refuses invalid options with a ConfigError listing the problems", async () => {
    const error = await startHost({ services: [probe], dataDir: tempDir(), nats: { servers: nats.url }, partitions: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/partitions/);
  });

  it("runs embedded without nats, and refuses another partition count on the same data dir", async () => {
    const dataDir = tempDir();
    const host = await startHost({ services: [probe], dataDir, partitions: 4 });
    expect(host.mode).toBe("embedded");
    expect(host.ownedPartitions()).toEqual([0, 1, 2, 3]);
    await host.close();
    const error = await startHost({ services: [probe], dataDir, partitions: 8 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/created with 4 partitions, but this host is configured with 8/);
  });

  it("refuses a partition count that differs from the existing stream's", async () => {
    const namespace = uniqueNamespace();
    const first = await startHost({ services: [probe], dataDir: tempDir(), nats: { servers: nats.url }, namespace, partitions: 4, logLevel: "silent" });
    await first.close();
    const error = await startHost({ services: [probe], dataDir: tempDir(), nats: { servers: nats.url }, namespace, partitions: 8, logLevel: "silent" }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/created with 4 partitions, but this host is configured with 8/);
  });
});

describe("process lifetime", () => {
  it("keeps an embedded host's process alive until close(), so that a delayed send left pending by the script runs", async () => {
    const mark = join(tempDir(), "ran");
    const child = await startFixtureProcess("test/fixtures/pending-send-main.ts", [tempDir(), mark]);
    const exited = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve(-1);
      }, 15_000);
      child.once("exit", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    expect(existsSync(mark), "the delayed send ran before the process ended").toBe(true);
    expect(exited).toBe(0);
  });
});

describe("one host per data dir", () => {
  it("refuses a second host on a data dir in use, and admits one once the first closed", async () => {
    const dataDir = tempDir();
    const options = { services: [probe], dataDir, nats: { servers: nats.url }, namespace: uniqueNamespace(), partitions: 2, logLevel: "silent" as const };
    const first = await startHost(options);
    const refused = await startHost({ ...options, namespace: uniqueNamespace() }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toMatch(/is already used by another host in this process/);
    await first.close();
    const second = await startHost(options);
    await second.close();
  });
});

describe("state and handler rules", () => {
  it("fails an invocation whose commit is larger than NATS takes in one message, and keeps other keys working", async () => {
    const big = client.objectClient(probe, "too-big");
    expect(await terminal(big.bloat({ count: 10, bytes: 1_000_000 }))).toMatch(/exceed what NATS takes in one message/);
    expect(await big.keys()).toEqual([]);
    await client.objectClient(probe, "next-to-big").append(1);
    expect(await client.objectClient(probe, "next-to-big").list()).toEqual([1]);
  });

  it("records a delayed send too large to keep as a timer as failed, instead of retrying it for ever", async () => {
    const lines: Array<{ msg: string }> = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
    const ns = uniqueNamespace();
    // The test server takes 8 MB messages; the host, inputs of up to 16 MiB.
    const own = await startHost({ services: [probe, echo], dataDir: tempDir(), nats: { servers: nats.url }, namespace: ns, partitions: 4, logger, maxPayloadBytes: 16 * 1024 * 1024 });
    const sender = await connect({ servers: nats.url, namespace: ns });
    try {
      // Fits in one NATS message as an input; with the timer around it, not in one changelog entry.
      await sender.objectSendClient(probe, "too-big-later", { delayMs: 60_000 }).append("x".repeat(8 * 1024 * 1024 - 4200) as unknown as number);
      const recorded = await eventually(() => lines.some((l) => l.msg === "delayed send too large to keep; recorded as failed"), 10_000);
      expect(recorded, JSON.stringify(lines.map((l) => l.msg).slice(-8))).toBe(true);
      await sender.objectClient(probe, "too-big-later").append(1);
      expect(lines.filter((l) => l.msg === "invocation failed unexpectedly; retrying")).toEqual([]);
    } finally {
      await sender.close();
      await own.close();
    }
  });

  it("refuses a state write from a shared handler at run time", async () => {
    expect(await terminal(client.objectClient(probe, "rules").sharedWrite())).toBe("ctx.set(...) may only be called from an exclusive handler");
  });
});

describe("what is committed", () => {
  // API.md, "Context": a TerminalError ends the invocation with the writes and sends made before it.
  it("commits an attempt's state writes and sends with the TerminalError it throws", async () => {
    expect(await terminal(client.objectClient(probe, "discard").setThenFail())).toBe("failed after writing");
    expect(await client.objectClient(probe, "discard").written()).toEqual({ written: true, a: null });
    expect(await eventually(async () => (await client.objectClient(probe, "discard").list()).includes(99))).toBe(true);
    await client.objectClient(probe, "discard").append(1);
    expect(await client.objectClient(probe, "discard").list()).toEqual([99, 1]);
  });

  it("refuses a state value that does not encode at ctx.set; the writes before it commit with the failure", async () => {
    const message = await terminal(client.objectClient(probe, "unencodable").setUnencodable());
    expect(message).toMatch(/^ctx\.set\("b", value\): value\.when is a symbol; only plain data/);
    expect(await client.objectClient(probe, "unencodable").written()).toEqual({ written: null, a: 1 });
  });

  it("runs an invocation once when the same message reaches the stream twice (no JetStream dedup)", async () => {
    observed.reset();
    const admin = await natsConnect({ servers: nats.url });
    try {
      const js = admin.jetstream();
      const replies = admin.subscribe("_INBOX.dup.replies", { max: 2 });
      const envelope = {
        invocationId: newInvocationId(),
        target: { type: "object" as const, name: "Probe", key: "dup", handler: "once" },
        replyTo: { kind: "nats" as const, subject: "_INBOX.dup.replies", callId: "c" },
      };
      // No Nats-Msg-Id: JetStream stores both copies; only the completion record can tell.
      for (let i = 0; i < 2; i++) await js.publish(`${namespace}.in.${partitionOf("Probe", "dup", 4)}`, encode("x"), { headers: envelopeHeaders(envelope) });
      let answers = 0;
      for await (const _ of replies) answers++;
      expect(answers).toBe(2);
      expect(observed.runs.get("once:dup")).toBe(1);
    } finally {
      await admin.close();
    }
  });
});

describe("partition consumers", () => {
  it("serves a partition again when its inbox consumer is deleted under it (as a stale former owner's reset does)", async () => {
    const p = partitionOf("Probe", "orphaned", 4);
    await client.objectClient(probe, "orphaned").append(1);
    const admin = await natsConnect({ servers: nats.url });
    try {
      const jsm = await admin.jetstreamManager();
      const stream = `${namespace.toUpperCase()}_INBOX`;
      const deleted: string[] = [];
      for await (const info of jsm.consumers.list(stream)) {
        if (info.config.filter_subject === `${namespace}.in.${p}`) {
          await jsm.consumers.delete(stream, info.name);
          deleted.push(info.name);
        }
      }
      expect(deleted).toHaveLength(1);
      // Bounded: the consume loop notices within a pull's expiry and recreates its consumer.
      const answered = await eventually(async () => {
        const list = await client.objectClient(probe, "orphaned").list(undefined, { timeoutMs: 1000 }).catch(() => undefined);
        return list !== undefined;
      }, 20_000, 100);
      expect(answered).toBe(true);
      await client.objectClient(probe, "orphaned").append(2, { timeoutMs: 5000 });
      expect(await client.objectClient(probe, "orphaned").list()).toEqual([1, 2]);
    } finally {
      await admin.close();
    }
  }, 40_000);
});

describe("closing a host", () => {
  it("keeps a key's order when it closes while an invocation of that key is backing off", async () => {
    const namespace = uniqueNamespace();
    const dataDir = tempDir();
    const ready = join(tempDir(), "ready");
    const options = { services: [probe], dataDir, nats: { servers: nats.url }, namespace, partitions: 2, shutdownGraceMs: 300, logLevel: "silent" as const };
    const first = await startHost(options);
    const sends = first.client;
    const attempted = join(tempDir(), "attempted");
    await sends.objectSendClient(probe, "ordered-close").appendWhenReady({ value: 1, ready, attempted });
    await sends.objectSendClient(probe, "ordered-close").append(2);
    // The first has failed at least once and is backing off; the second waits behind it.
    expect(await eventually(() => existsSync(attempted), 10_000)).toBe(true);
    await first.close();
    writeFileSync(ready, "");
    expect(existsSync(ready)).toBe(true);
    const second = await startHost(options);
    try {
      const list = second.client.objectClient(probe, "ordered-close").list;
      const done = await eventually(async () => (await list()).length === 2, 10_000);
      expect(done).toBe(true);
      expect(await list()).toEqual([1, 2]);
    } finally {
      await second.close();
    }
  });
});
