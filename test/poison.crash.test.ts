import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type CairnClient, connect } from "cairn/client";
import type { InvocationSummary } from "../runtime/admin/index.js";
import { poison } from "./fixtures/poison.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";
import { killProcess } from "./helpers/host-process.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

/** A poison host process: its endpoints, and how many times each poison handler started in it. */
interface PoisonHost {
  proc: ChildProcess;
  admin: string;
  ingress: string;
  starts: Map<string, number>;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

function startPoisonHost(where: string, namespace: string, dataDir: string, starts: Map<string, number>, options: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<PoisonHost> {
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), "--conditions=source", "--import", "tsx", "test/fixtures/poison-main.ts", where, namespace, dataDir, "2"], {
    stdio: ["ignore", "pipe", "ignore"],
    env: { ...process.env, ...options.env },
  });
  children.push(proc);
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the poison host did not become ready within 30 s")), 30_000);
    let buffered = "";
    proc.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const [word, a, b] = line.split(" ");
        if (word === "start" && a) starts.set(a, (starts.get(a) ?? 0) + 1);
        if (word === "ready" && a && b) {
          clearTimeout(timer);
          resolve({ proc, admin: a, ingress: b, starts, exited });
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the poison host exited with ${code} before it was ready`));
    });
  });
}

async function paused(admin: string): Promise<InvocationSummary[]> {
  try {
    const response = await fetch(`${admin}/api/invocations?status=paused`);
    return ((await response.json()) as { invocations: InvocationSummary[] }).invocations;
  } catch {
    return []; // that host is gone, or blocked
  }
}

afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => killProcess(child)));
});

describe("poison invocations are paused, and the partition serves its other keys", () => {
  it.each(["hog", "hogAfterNap"] as const)("embedded: a handler that fills the heap (%s) crashes the process at most maxLostAttempts times, then waits paused", async (handler) => {
    const dataDir = tempDir();
    const starts = new Map<string, number>();
    const heap = { nodeArgs: ["--max-old-space-size=48"] };
    let host = await startPoisonHost("embedded", "unused", dataDir, starts, heap);
    const sent = await fetch(`${host.ingress}/Poison/bad/${handler}/send`, { method: "POST" });
    expect(sent.status).toBe(202);
    const { invocationId } = (await sent.json()) as { invocationId: string };
    let crashes = 0;
    // A supervisor's loop: each crash is followed by a restart on the same data dir.
    for (;;) {
      const outcome = await Promise.race([host.exited.then(() => "crashed" as const), sleep(20_000).then(() => "alive" as const)]);
      if (outcome === "alive") break;
      crashes++;
      expect(crashes, "the poison kept crashing the host").toBeLessThanOrEqual(4);
      host = await startPoisonHost("embedded", "unused", dataDir, starts, heap);
      const found = await eventually(async () => (await paused(host.admin)).some((inv) => inv.id === invocationId), 3000);
      if (found) break;
    }
    // The first attempt and the ones each restart counted: 3 lost attempts, then paused.
    expect(crashes).toBe(3);
    expect(starts.get(handler)).toBe(3);
    const [stuck] = (await paused(host.admin)).filter((inv) => inv.id === invocationId);
    expect(stuck).toMatchObject({ target: { object: "Poison", key: "bad", handler }, status: "paused" });
    expect(stuck?.lastError).toMatch(/^LostAttemptError: 3 attempts ended with the host or partition running it lost/);
    // Every other key answers, and the host stays up.
    for (let i = 0; i < 8; i++) expect(await (await fetch(`${host.ingress}/Poison/key-${i}/ping`, { method: "POST" })).json()).toBe(`pong key-${i}`);
    // The operator kills it: its key is free again, and nothing crashed meanwhile.
    expect((await fetch(`${host.admin}/api/invocations/${invocationId}/kill`, { method: "POST" })).status).toBe(202);
    expect(await (await fetch(`${host.ingress}/Poison/bad/ping`, { method: "POST" })).json()).toBe("pong bad");
    expect(host.proc.exitCode).toBeNull();
    expect(starts.get(handler)).toBe(3);
  }, 120_000);

  describe("over NATS", () => {
    let nats: NatsServer;
    let client: CairnClient | undefined;
    afterAll(async () => {
      await client?.close();
      await nats?.stop();
    });

    it("two hosts: a handler that blocks the event loop past the lease is paused after the take-overs that found it running", async () => {
      nats = await startNatsServer();
      const namespace = uniqueNamespace();
      const starts = new Map<string, number>();
      const env = { CAIRN_TEST_LEASE_TTL_MS: "1000" };
      const hosts = await Promise.all([0, 1].map(() => startPoisonHost(nats.url, namespace, tempDir(), starts, { env })));
      client = await connect({ servers: nats.url, namespace, timeoutMs: 5000 });
      const { invocationId } = await client.objectSendClient(poison, "spinner").spin(4000);
      const isPaused = async () => (await Promise.all(hosts.map((h) => paused(h.admin)))).flat().some((inv) => inv.id === invocationId);
      expect(await eventually(isPaused, 90_000, 250), `not paused; the handler started ${starts.get("spin")} times`).toBe(true);
      // The first run, and a take-over that found it running each time after: at most maxLostAttempts starts.
      expect(starts.get("spin")).toBeLessThanOrEqual(3);
      // The partitions settle on the hosts and serve every other key; the spinner starts no more.
      const pings = async () => {
        for (let i = 0; i < 8; i++) if ((await client?.objectClient(poison, `key-${i}`).ping().catch(() => undefined)) !== `pong key-${i}`) return false;
        return true;
      };
      expect(await eventually(pings, 30_000, 200)).toBe(true);
      const started = starts.get("spin");
      await sleep(2000);
      expect(starts.get("spin")).toBe(started);
      expect(hosts.every((h) => h.proc.exitCode === null)).toBe(true);
    }, 150_000);
  });
});
