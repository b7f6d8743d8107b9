import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { startHost } from "cairn/runtime";
import { type Hit, delayedOp, ledger, scheduler } from "./fixtures/delayed-ledger.js";
import { eventually, seededRandom, tempDir, untilAcknowledged } from "./helpers/host.js";
import { killProcess, startFixtureProcess } from "./helpers/host-process.js";

const SEED = Number(process.env.CAIRN_CRASH_SEED ?? 8_2026);
const KILLS = 5;
const LEDGERS = 5;

let child: ChildProcess | undefined;
afterEach(() => killProcess(child));

async function allHits(client: Awaited<ReturnType<typeof startHost>>["client"]): Promise<Hit[]> {
  const hits: Hit[] = [];
  for (let k = 0; k < LEDGERS; k++) hits.push(...(await untilAcknowledged(() => client.objectClient(ledger, `ledger-${k}`).hits())));
  return hits;
}

describe("embedded delayed sends under SIGKILL", () => {
  it("runs every acknowledged delayed send (client's and handler's) exactly once, never before its delay", async () => {
    const random = seededRandom(SEED);
    const dataDir = tempDir();
    const journal = join(tempDir(), "journal");
    const startedAt = new Map<number, number>();
    const acknowledged = new Set<number>();
    let next = 0;
    const readJournal = () => {
      if (!existsSync(journal)) return;
      for (const line of readFileSync(journal, "utf8").split("\n")) {
        const [kind, n, at] = line.split(" ");
        if (kind === "s" && !startedAt.has(Number(n))) startedAt.set(Number(n), Number(at));
        if (kind === "a") acknowledged.add(Number(n));
      }
      next = Math.max(next, ...[...startedAt.keys()].map((n) => n + 1));
    };
    const unacknowledged = () => [...startedAt.keys()].filter((n) => !acknowledged.has(n));

    for (let kill = 0; kill < KILLS; kill++) {
      child = await startFixtureProcess("test/fixtures/delayed-crash-main.ts", [dataDir, journal, String(next)], {
        env: { CAIRN_CRASH_REDO: unacknowledged().join(",") },
      });
      await sleep(200 + Math.floor(random() * 1200));
      await killProcess(child);
      readJournal();
      console.log(`kill ${kill + 1}/${KILLS}: ${acknowledged.size} acknowledged, ${unacknowledged().length} in flight`);
    }

    const host = await startHost({ services: [ledger, scheduler], dataDir, partitions: 8, logLevel: "silent" });
    try {
      for (const n of unacknowledged()) {
        const op = delayedOp(n);
        if (op.via === "client") {
          await host.client.objectSendClient(ledger, op.ledgerKey, { delayMs: op.delayMs }).hit(n, { idempotencyKey: `op-${n}` });
        } else {
          await host.client.objectClient(scheduler, `s-${n % 3}`).schedule({ ledgerKey: op.ledgerKey, id: n, delayMs: op.delayMs }, { idempotencyKey: `op-${n}` });
        }
        acknowledged.add(n);
      }
      // Every delay is under 1.5 s: all must have run well within this wait.
      let hits: Hit[] = [];
      await eventually(async () => {
        hits = await allHits(host.client);
        return acknowledged.size > 0 && [...acknowledged].every((n) => hits.some((h) => h.id === n));
      }, 20_000, 200);
      const byId = new Map(hits.map((h) => [h.id, h]));
      const missing = [...acknowledged].filter((n) => !byId.has(n));
      const doubled = hits.filter((h) => h.count !== 1).map((h) => `${h.id}×${h.count}`);
      const unknown = hits.filter((h) => !startedAt.has(h.id)).map((h) => h.id);
      const early = hits
        .filter((h) => h.at < (startedAt.get(h.id) ?? 0) + delayedOp(h.id).delayMs)
        .map((h) => `${h.id}: ${(startedAt.get(h.id) ?? 0) + delayedOp(h.id).delayMs - h.at} ms early`);
      console.log(`${acknowledged.size} acknowledged, ${hits.length} ran; missing ${missing.length}, doubled ${doubled.length}, early ${early.length}`);
      expect({ missing, doubled, unknown, early }).toEqual({ missing: [], doubled: [], unknown: [], early: [] });
    } finally {
      await host.close();
    }
  }, 90_000);
});
