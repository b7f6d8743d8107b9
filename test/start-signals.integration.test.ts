// `npm start` as a user runs it: npm, then node, then (with --nats local) a nats-server. Each way a
// user stops it must leave nothing running. npm passes SIGTERM only to its direct child and SIGHUP
// not at all, so the signals that go to the npm process alone are tested as such.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { startHost } from "../runtime/index.js";
import { counter } from "../examples/counter.js";
import { freePort } from "./helpers/nats-server.js";

const REPO = resolve(import.meta.dirname, "..");
const STOP_BOUND_MS = 25_000;

/** Running, and not a zombie waiting for a parent to reap it. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function untilGone(pids: number[], boundMs: number): Promise<number[]> {
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    if (!pids.some(isRunning)) return [];
    await sleep(100);
  }
  return pids.filter(isRunning);
}

interface Started {
  npm: ChildProcess;
  output: () => string;
  /** The node process running scripts/start.ts (from its host's JSON log line). */
  nodePid: number;
  /** The nats-server it started, if any. */
  natsPid: number | undefined;
  stateDir: string;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Runs `npm start -- ARGS` in its own process group, as a terminal runs a foreground job. */
async function npmStart(args: string[], env: Record<string, string>): Promise<Started> {
  const stateDir = mkdtempSync(join(process.env.CAIRN_TEST_TMP ?? tmpdir(), "npm-start-"));
  const childEnv: NodeJS.ProcessEnv = { ...process.env, CAIRN_STATE_DIR: stateDir, ...env };
  for (const name of ["CAIRN_NATS_USER", "CAIRN_NATS_PASSWORD", "CAIRN_DATA_DIR", "CAIRN_LOG_LEVEL"]) delete childEnv[name];
  if (!("CAIRN_NATS_URL" in env)) delete childEnv.CAIRN_NATS_URL;
  const npm = spawn("npm", ["start", "--", ...args], { cwd: REPO, env: childEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  npm.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const started: Partial<Started> = { npm, output: () => output, stateDir };
  cleanups.push(() => {
    for (const pid of [npm.pid, started.nodePid, started.natsPid]) if (pid && isRunning(pid)) process.kill(pid, "SIGKILL");
    rmSync(stateDir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 60_000;
  while (!output.includes("Ctrl-C stops the host")) {
    started.natsPid ??= Number(/started nats-server \(pid (\d+)\)/.exec(output)?.[1]) || undefined;
    if (npm.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await sleep(100);
  }
  const natsMatch = /started nats-server \(pid (\d+)\)/.exec(output);
  // Set on `started` itself, which the clean-up reads.
  started.natsPid = natsMatch ? Number(natsMatch[1]) : undefined;
  started.nodePid = Number(/"pid":(\d+).*"msg":"host started"/.exec(output)?.[1]);
  expect(started.nodePid).toBeGreaterThan(0);
  return { npm, output: () => output, stateDir, nodePid: started.nodePid, natsPid: started.natsPid };
}

const stops = [
  { how: "Ctrl-C (SIGINT to the process group)", signal: "SIGINT", group: true },
  { how: "SIGTERM to the npm process only", signal: "SIGTERM", group: false },
  { how: "SIGHUP to the npm process only", signal: "SIGHUP", group: false },
  { how: "a closed terminal (SIGHUP to the process group)", signal: "SIGHUP", group: true },
] as const;

function send(started: Started, stop: (typeof stops)[number]): void {
  const npmPid = started.npm.pid ?? 0;
  process.kill(stop.group ? -npmPid : npmPid, stop.signal);
}

describe("npm start -- --nats local", () => {
  it.each(stops)("stops the host and the nats-server it started on $how", async (stop) => {
    const port = await freePort();
    const started = await npmStart(["--nats", "local"], { CAIRN_NATS_URL: `nats://127.0.0.1:${port}` });
    expect(started.natsPid).toBeGreaterThan(0);
    const pids = [started.nodePid, started.natsPid ?? 0];
    expect(pids.every(isRunning)).toBe(true);
    send(started, stop);
    expect(await untilGone(pids, STOP_BOUND_MS), started.output()).toEqual([]);
    expect(started.output()).toContain('"msg":"host closed"');
  }, 90_000);
});

/** Whether startHost runs without NATS yet (embedded mode is being built on main). */
async function embeddedModeAvailable(): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-embedded-probe-"));
  try {
    const host = await startHost({ services: [counter], dataDir: dir, logLevel: "silent" });
    await host.close();
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!(await embeddedModeAvailable()))("npm start (embedded)", () => {
  it.each(stops)("answers the README's curl line, then stops on $how", async (stop) => {
    const port = await freePort();
    const started = await npmStart(["--port", String(port)], {});
    expect(started.natsPid).toBeUndefined();
    const response = await fetch(`http://127.0.0.1:${port}/ShoppingCart/user-1/addItem`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sku: "apple", qty: 2, priceCents: 120 }),
    });
    expect(await response.json()).toEqual({ itemCount: 1 });
    send(started, stop);
    expect(await untilGone([started.nodePid], STOP_BOUND_MS), started.output()).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${port}/ShoppingCart/user-1/getItems`, { method: "POST" })).rejects.toThrow();
  }, 90_000);
});
