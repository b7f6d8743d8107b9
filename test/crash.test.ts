import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { type CairnClient, connect } from "cairn/client";
import { startHost } from "cairn/runtime";
import { counter, mirror } from "../examples/counter.js";
import { orderService, shoppingCart } from "../examples/shopping-cart.js";
import { probe } from "./fixtures/probe.js";
import { CRASH_LOAD_SHAPE, type CrashCheck, checkCrashOps, runCrashOp } from "./helpers/crash-ops.js";
import { eventually, seededRandom, tempDir, uniqueNamespace } from "./helpers/host.js";
import { CrashLoad } from "./helpers/load.js";
import { killProcess, startFixtureProcess, startHostProcess } from "./helpers/host-process.js";
import { ModeName, modes, useMode } from "./helpers/modes.js";

const SEED = Number(process.env.CAIRN_CRASH_SEED ?? 20261124);
const KILLS = 6;
const CARTS = 12;
const COUNTERS = 6;
const WORKERS = 24;

let child: ChildProcess | undefined;
const killChild = () => killProcess(child);

/** What a crash run ends with: operations acknowledged, and the violations found afterwards. */
interface CrashRun {
  acknowledged: number;
  result: CrashCheck;
}

/**
 * NATS mode: hosts in child processes, SIGKILLed and restarted on the same data dir, while the load
 * runs in this process through a NATS client that outlives them.
 */
async function natsCrashRun(natsUrl: string, random: () => number): Promise<CrashRun> {
  const namespace = uniqueNamespace("crash");
  const dataDir = tempDir();
  child = await startHostProcess({ natsUrl, namespace, dataDir, partitions: 8 });
  // Shorter than a restart: calls in flight during a kill time out and are retried with their key.
  const client: CairnClient = await connect({ servers: natsUrl, namespace, timeoutMs: 700 });
  const load = new CrashLoad(client, { workers: WORKERS, carts: CARTS, counters: COUNTERS });
  load.start();
  for (let kill = 0; kill < KILLS; kill++) {
    await sleep(300 + Math.floor(random() * 1200));
    const callsBefore = load.stats.calls;
    await killChild();
    child = await startHostProcess({ natsUrl, namespace, dataDir, partitions: 8 });
    console.log(`kill ${kill + 1}/${KILLS}: ${callsBefore} calls acknowledged before it`);
  }
  await sleep(500);
  await load.stop();
  const result = await load.check();
  await client.close();
  await killChild();
  return { acknowledged: load.stats.calls, result };
}

/**
 * Embedded mode has no server: the load dies with its host. Each child process holds both
 * (test/fixtures/crash-load-main.ts) and journals every operation it starts and sees acknowledged;
 * the next child calls the unacknowledged ones again first, as a client that crashed would on
 * restart. After the last kill this process opens the data dir, finishes what is still
 * unacknowledged, and checks. (`over` runs the same harness with the host over NATS.)
 */
async function inProcessLoadCrashRun(random: () => number, over?: { natsUrl: string }): Promise<CrashRun> {
  const dataDir = tempDir();
  const journal = join(tempDir(), "journal");
  const namespace = uniqueNamespace("crashe");
  const natsArgs = over ? [over.natsUrl, namespace] : [];
  const started = new Set<number>();
  const acknowledged = new Set<number>();
  let next = 0;
  const readJournal = () => {
    if (!existsSync(journal)) return;
    for (const line of readFileSync(journal, "utf8").split("\n")) {
      const [kind, n] = line.split(" ");
      if (kind === "s") started.add(Number(n));
      if (kind === "a") acknowledged.add(Number(n));
    }
    next = Math.max(next, ...[...started].map((n) => n + 1));
  };
  const unacknowledged = () => [...started].filter((n) => !acknowledged.has(n));

  for (let kill = 0; kill < KILLS; kill++) {
    child = await startFixtureProcess("test/fixtures/crash-load-main.ts", [dataDir, journal, String(next), ...natsArgs], {
      env: { CAIRN_CRASH_REDO: unacknowledged().join(",") },
    });
    await sleep(300 + Math.floor(random() * 1200));
    await killChild();
    readJournal();
    console.log(`kill ${kill + 1}/${KILLS}: ${acknowledged.size} operations acknowledged, ${unacknowledged().length} in flight`);
  }

  // A fresh process on the same data dir: this one.
  const host = await startHost({
    services: [shoppingCart, orderService, counter, mirror],
    dataDir,
    ...(over ? { nats: { servers: over.natsUrl }, namespace, partitions: 8 } : {}),
    logLevel: "silent",
  });
  try {
    const stats = { retries: 0 };
    for (const n of unacknowledged()) {
      await runCrashOp(host.client, n, CRASH_LOAD_SHAPE, stats);
      acknowledged.add(n);
    }
    const result = await checkCrashOps(host.client, acknowledged, CRASH_LOAD_SHAPE, stats);
    return { acknowledged: acknowledged.size, result };
  } finally {
    await host.close();
  }
}

describe.each(modes)("$label", (mode) => {
  const cairn = useMode(mode);

  it("loses and duplicates nothing when the host is SIGKILLed at random moments under load", async () => {
    const random = seededRandom(SEED);
    let run: CrashRun;
    try {
      switch (mode.name) {
        case ModeName.Nats:
          run = await natsCrashRun(cairn.natsUrl ?? "", random);
          break;
        case ModeName.Embedded:
          run = await inProcessLoadCrashRun(random);
          break;
        default: {
          const never: never = mode.name;
          throw new Error(`unknown mode ${String(never)}`);
        }
      }
    } finally {
      await killChild();
    }
    console.log(`${mode.name} mode, seed ${SEED}: ${KILLS} kills, ${run.result.summary}`);
    expect(run.acknowledged).toBeGreaterThan(50); // the load really ran between the kills
    expect(run.result).toMatchObject({ lost: 0, duplicated: 0, countersOff: 0, mirrored: true, mirrorsOff: 0 });
  }, 240_000);

  // Over NATS, a client outlives its host: a call it is waiting on is answered by the next one.
  if (mode.name === ModeName.Nats) {
    it("answers a call that was waiting while its host was killed, without the client retrying", async () => {
      const natsUrl = cairn.natsUrl ?? "";
      const namespace = uniqueNamespace("wait");
      const dataDir = tempDir();
      child = await startHostProcess({ natsUrl, namespace, dataDir, partitions: 8 });
      const client = await connect({ servers: natsUrl, namespace, timeoutMs: 30_000 });
      try {
        // The host dies while the handler runs, before anything is committed.
        const started = join(tempDir(), "started");
        const call = client.objectClient(probe, "waiting").sleepAndMark({ ms: 1500, started });
        expect(await eventually(() => existsSync(started), 20_000)).toBe(true);
        await killChild();
        rmSync(started);
        child = await startHostProcess({ natsUrl, namespace, dataDir, partitions: 8 });
        expect(await call).toBe(1500);
        // The handler ran again on the new host: that is what answered.
        expect(existsSync(started)).toBe(true);
      } finally {
        await client.close();
        await killChild();
      }
    }, 60_000);
  }
});
