import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CallTimeoutError } from "cairn";
import { type CairnClient, connect } from "cairn/client";
import { blob } from "./fixtures/blob.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";
import { killProcess, startHostProcess } from "./helpers/host-process.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

// Mounting needs root; CI runs as root, so there this file always runs.
const canMount = process.getuid?.() === 0;
if (!canMount) console.warn("disk-full.crash.test.ts skipped: mounting a tmpfs needs root");

const DISK_MIB = 24;
const VALUE_BYTES = 900 * 1024;
/** Room left beside the filler file: a handful of values, then the disk is full. */
const LEFT_FREE_BYTES = 5 * 1024 * 1024;
const MAX_WRITES = 40;

describe.runIf(canMount)("a data dir whose disk fills up", () => {
  let nats: NatsServer;
  let mountPoint: string | undefined;
  let child: ChildProcess | undefined;
  let client: CairnClient | undefined;

  beforeAll(async () => {
    // The changelog lives in nats-server's store dir, off the small disk: only LMDB fills it.
    nats = await startNatsServer();
    mountPoint = tempDir("cairn-disk-");
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${DISK_MIB}m`, "tmpfs", mountPoint]);
  });

  afterAll(async () => {
    await client?.close();
    await killProcess(child);
    if (mountPoint) execFileSync("umount", [mountPoint]);
    await nats?.stop();
  });

  it("keeps the host running with a clear error, and serves again once space is freed, losing nothing acknowledged", async () => {
    const disk = mountPoint as string;
    const dataDir = join(disk, "data");
    mkdirSync(dataDir);
    const namespace = uniqueNamespace("disk");
    let stderr = "";
    child = await startHostProcess({ natsUrl: nats.url, namespace, dataDir, partitions: 2, onStderr: (text) => (stderr += text) });
    const host = child;
    const alive = () => host.exitCode === null && host.signalCode === null;
    client = await connect({ servers: nats.url, namespace, timeoutMs: 4000 });
    const blobs = client;
    const put = (i: number) => blobs.objectClient(blob, `b${i}`).put({ tag: `v${i}`, bytes: VALUE_BYTES }, { idempotencyKey: `put-${i}` });

    expect(await put(0)).toBe("v0");
    const filler = join(disk, "filler");
    const { bavail, bsize } = statfsSync(disk);
    writeFileSync(filler, Buffer.alloc(bavail * bsize - LEFT_FREE_BYTES));

    const acknowledged = [0];
    let unacknowledged: number | undefined;
    for (let i = 1; i < MAX_WRITES && unacknowledged === undefined; i++) {
      try {
        expect(await put(i)).toBe(`v${i}`);
        acknowledged.push(i);
      } catch (error) {
        if (!(error instanceof CallTimeoutError)) throw error;
        unacknowledged = i;
      }
    }
    console.log(`${acknowledged.length} writes acknowledged, then write ${unacknowledged} was not`);
    expect(unacknowledged, "the disk never filled up").toBeDefined();

    const logged = await eventually(() => !alive() || (stderr.includes(dataDir) && /no space left/i.test(stderr)), 15_000, 100);
    const state = { exitCode: host.exitCode, signal: host.signalCode };
    expect(state, `host died; its stderr ends with:\n${stderr.slice(-1500)}`).toEqual({ exitCode: null, signal: null });
    expect(logged, `no disk-full error naming ${dataDir} within 15 s; stderr ends with:\n${stderr.slice(-1500)}`).toBe(true);

    // Kept full through several failed commits (each one used to be an unhandled rejection).
    const failedCommits = () => stderr.split("Input/output error").length - 1;
    const before = failedCommits();
    await eventually(() => !alive() || failedCommits() >= before + 3, 15_000, 100);
    expect(alive(), `host died while the disk was full; its stderr ends with:\n${stderr.slice(-1500)}`).toBe(true);

    rmSync(filler);
    const freedAtMs = Date.now();
    // The same process (never restarted) applies what was waiting, on every partition, and takes
    // new work. A partition retries its apply every 5 s at most, so a first read may time out.
    const readTag = (i: number | string) => async () =>
      (await blobs.objectClient(blob, `b${i}`).read(undefined, { timeoutMs: 2000 }).catch(() => undefined)) ?? { tag: "(no answer)", length: 0 };
    const answers = new Map<number, { tag: string; length: number }>();
    const served = await eventually(
      async () => {
        for (const i of acknowledged) if (answers.get(i)?.tag !== `v${i}`) answers.set(i, await readTag(i)());
        return acknowledged.every((i) => answers.get(i)?.tag === `v${i}`);
      },
      30_000,
      100,
    );
    expect(served, `not every partition served again within 30 s of freeing space; stderr ends with:\n${stderr.slice(-1500)}`).toBe(true);
    console.log(`every partition served again ${Date.now() - freedAtMs} ms after space was freed`);
    expect(await blobs.objectClient(blob, "b-after").put({ tag: "after", bytes: 10 })).toBe("after");
    expect(alive()).toBe(true);
    // Nothing acknowledged is lost, and each value is whole.
    for (const i of acknowledged) expect(answers.get(i)).toEqual({ tag: `v${i}`, length: VALUE_BYTES });
    // The write that timed out was logged before LMDB failed; it is applied, not lost.
    const late = unacknowledged as number;
    expect(await eventually(async () => (await readTag(late)()).tag === `v${late}`, 15_000, 100)).toBe(true);
  }, 90_000);
});
