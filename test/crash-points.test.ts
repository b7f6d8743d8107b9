import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "cairn/client";
import { counter, mirror } from "../examples/counter.js";
import { CrashPoint } from "../runtime/faults.js";
import { eventually, tempDir, uniqueNamespace, untilAcknowledged } from "./helpers/host.js";
import { killProcess, startHostProcess } from "./helpers/host-process.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

const CALLS = 30;
const WORKERS = 3;

let nats: NatsServer;
const children: ChildProcess[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
});

afterAll(async () => {
  for (const child of children.splice(0)) await killProcess(child);
  await nats?.stop();
});

describe.each(Object.values(CrashPoint))("a host killed at %s", (point) => {
  it("loses and duplicates nothing once restarted", async () => {
    const namespace = uniqueNamespace("cp");
    const dataDir = tempDir();
    const host = { natsUrl: nats.url, namespace, dataDir, partitions: 4 };
    const faulty = await startHostProcess({ ...host, env: { CAIRN_CRASH_AT: `${point}:5` } });
    children.push(faulty);
    const died = new Promise<NodeJS.Signals | null>((resolve) => faulty.once("exit", (_code, signal) => resolve(signal)));
    // The replacement starts as soon as the faulty host dies, on the same data dir, without the fault.
    const replacement = died.then(async () => {
      const next = await startHostProcess(host);
      children.push(next);
      return next;
    });

    const client = await connect({ servers: nats.url, namespace, timeoutMs: 700 });
    try {
      let next = 0;
      await Promise.all(
        Array.from({ length: WORKERS }, async () => {
          while (next < CALLS) {
            const n = next++;
            await untilAcknowledged(() => client.objectClient(counter, "c").add(1, { idempotencyKey: `add-${n}` }));
          }
        }),
      );
      expect(await died).toBe("SIGKILL");
      await replacement;
      const total = await untilAcknowledged(() => client.objectClient(counter, "c").total());
      const mirrored = await eventually(async () => (await untilAcknowledged(() => client.objectClient(mirror, "c").total())) === CALLS, 20_000, 100);
      console.log(`${point}: counter ${total}, mirror ${await client.objectClient(mirror, "c").total()} (expected ${CALLS} each)`);
      expect(total).toBe(CALLS);
      expect(mirrored).toBe(true);
    } finally {
      await client.close();
      // Stop this case's hosts now, so they do not load the machine during the next cases.
      for (const child of children.splice(0)) await killProcess(child);
    }
  }, 90_000);
});
