import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { connect as natsConnect } from "nats";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { type CairnClient, connect } from "cairn/client";
import { counter } from "../examples/counter.js";
import { inboxStreamName, partitionOf } from "../sdk/internal.js";
import { leaseBucketName, readLeases } from "../runtime/transport/nats/index.js";
import { eventually, seededRandom, tempDir, uniqueNamespace } from "./helpers/host.js";
import { killProcess, startHostProcess } from "./helpers/host-process.js";
import { CrashLoad } from "./helpers/load.js";
import { type RestartableNatsServer, startRestartableNatsServer } from "./helpers/nats-server.js";

const SEED = Number(process.env.CAIRN_CRASH_SEED ?? 20261207);
const PARTITIONS = 8;
/**
 * What the runtime promises: after a NATS fault ends, every partition answers again within this.
 * Measured at most 8.8 s after a kill and 13.5 s after a 10 s pause on the 2-core machine (most of
 * it the 5 s lease TTL, and after a pause a stalled object-store read cut off at 10 s); the rest
 * is margin for a busy machine.
 */
const SERVE_AGAIN_MS = 20_000;
/**
 * How long calls are watched after each fault: past a lease's TTL (5 s), so that a lease the
 * outage cost, and the partition's take-over under a new epoch, fall inside it.
 */
const OBSERVE_MS = 24_000;
/**
 * A fault's watch ends early once every partition answered and nothing failed for QUIET_MS, and at
 * least MIN_OBSERVE_MS passed since NATS came back (past a lease's TTL, 5 s, so that a lease the
 * outage cost, and its take-over under a new epoch, fall inside it). Each fault still ends with
 * the failures of the slowest partition inside the watch; the whole run ends with a 5 s watch more.
 */
const MIN_OBSERVE_MS = 8000;
const QUIET_MS = 6000;
/** NATS is down this long on each kill -9, then started again on the same port and store. */
const DOWN_MS = 2000;

type Fault = { type: "kill" } | { type: "pause"; ms: number };

interface HostChild {
  proc: ChildProcess;
  /** The most workers one partition had at once in this host, as it last reported. */
  census: number;
}

let nats: RestartableNatsServer;
const hosts: HostChild[] = [];

beforeAll(async () => {
  nats = await startRestartableNatsServer();
});

afterEach(async () => {
  nats.resume();
  await Promise.all(hosts.splice(0).map((h) => killProcess(h.proc)));
});

afterAll(async () => {
  await nats?.stop();
});

async function startHost(namespace: string): Promise<HostChild> {
  const proc = await startHostProcess({ natsUrl: nats.url, namespace, dataDir: tempDir(), partitions: PARTITIONS });
  const host: HostChild = { proc, census: 1 };
  proc.stdout?.on("data", (chunk: Buffer) => {
    for (const match of chunk.toString().matchAll(/census (\d+)/g)) host.census = Math.max(host.census, Number(match[1]));
  });
  hosts.push(host);
  return host;
}

/** One Counter key per partition: a call to it answers only if that partition is served. */
function probeKeys(): string[] {
  const keys: string[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    for (let i = 0; ; i++) {
      if (partitionOf(counter.name, `probe-${i}`, PARTITIONS) !== p) continue;
      keys.push(`probe-${i}`);
      break;
    }
  }
  return keys;
}

/**
 * Calls every partition every 250 ms for `windowMs` (each call bounded by 1 s) and finds, per
 * partition, the moment from which every call issued was answered: how long after `start` that
 * was, for the slowest partition, and which partitions' last calls still failed. A new call never
 * waits for the last one: a call published while NATS was down waits out the client's PubAck
 * timeout (10 s), which says nothing about the partition.
 */
async function observe(client: CairnClient, keys: string[], windowMs: number, start = Date.now(), settleEarly = false): Promise<{ ms: number; stuck: number[] }> {
  const attempts = keys.map(() => [] as Array<{ issuedAt: number; ok: Promise<boolean> }>);
  // When the last probe that failed was issued, and whether each partition answered one since.
  let troubleAt = start;
  const answeredSince = keys.map(() => false);
  const settled = () => {
    const now = Date.now();
    return settleEarly && now - start >= MIN_OBSERVE_MS && now - troubleAt >= QUIET_MS && answeredSince.every(Boolean);
  };
  let end = start + windowMs;
  while (Date.now() < end) {
    keys.forEach((key, p) => {
      const issuedAt = Date.now();
      const ok = client
        .objectClient(counter, key)
        .total(undefined, { timeoutMs: 2000 })
        .then(
          () => true,
          () => false,
        )
        .then((answered) => {
          if (!answered) {
            troubleAt = Math.max(troubleAt, issuedAt);
            answeredSince[p] = false;
          } else if (issuedAt >= troubleAt) {
            answeredSince[p] = true;
          }
          return answered;
        });
      attempts[p]?.push({ issuedAt, ok });
    });
    await sleep(250);
    if (settled()) end = Date.now();
  }
  let ms = 0;
  const stuck: number[] = [];
  for (const [p, list] of attempts.entries()) {
    const results = await bounded(Promise.all(list.map((a) => a.ok)), 15_000, `partition ${p}'s probes`);
    const lastFailed = results.lastIndexOf(false);
    // The last second of calls must all have been answered: a partition still failing is stuck.
    if (lastFailed >= 0 && (list[lastFailed]?.issuedAt ?? 0) > end - 1500) stuck.push(p);
    const servedFrom = list[lastFailed + 1]?.issuedAt ?? start;
    ms = Math.max(ms, servedFrom - start);
  }
  return { ms, stuck };
}

async function bounded<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)));
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The inbox consumers and the leases, as NATS holds them: what a failure report needs. */
async function natsView(namespace: string): Promise<string> {
  const nc = await natsConnect({ servers: nats.url });
  try {
    const jsm = await nc.jetstreamManager();
    const parts: string[] = [];
    for await (const c of jsm.consumers.list(inboxStreamName(namespace))) {
      parts.push(`${c.name}(${c.config.filter_subject}): pending ${c.num_pending}, ack_pending ${c.num_ack_pending}, waiting ${c.num_waiting}, redelivered ${c.num_redelivered}`);
    }
    const kv = await nc.jetstream().views.kv(leaseBucketName(namespace), { bindOnly: true });
    const { hosts, leases } = await readLeases(kv);
    parts.push(`hosts ${hosts.join(" ")}; leases ${leases.map((l) => `p${l.partition}=${l.hostId.slice(5, 13)}@${l.epoch}`).join(" ")}`);
    return parts.join("; ");
  } catch (error) {
    return `(could not read: ${String(error)})`;
  } finally {
    await nc.close();
  }
}

/** Nothing left in the inbox: every message delivered and acked, none held unacked by a consumer. */
async function inboxDrained(namespace: string): Promise<{ drained: boolean; consumers: string }> {
  const nc = await natsConnect({ servers: nats.url });
  try {
    const jsm = await nc.jetstreamManager();
    let consumers = "";
    const drained = await eventually(
      async () => {
        const infos = [];
        for await (const info of jsm.consumers.list(inboxStreamName(namespace))) infos.push(info);
        consumers = infos.map((i) => `${i.name}: ack_pending ${i.num_ack_pending}, pending ${i.num_pending}`).join("; ");
        return infos.every((i) => i.num_ack_pending === 0 && i.num_pending === 0);
      },
      15_000,
      250,
    );
    return { drained, consumers };
  } finally {
    await nc.close();
  }
}

async function inflict(fault: Fault): Promise<void> {
  switch (fault.type) {
    case "kill":
      await nats.kill();
      await sleep(DOWN_MS);
      await nats.restart();
      return;
    case "pause":
      nats.pause();
      await sleep(fault.ms);
      nats.resume();
      return;
    default: {
      const _: never = fault;
      throw new Error(`unknown fault ${String(_)}`);
    }
  }
}

/**
 * Runs light load on `hostCount` hosts through `faults`; after each, every partition must answer
 * within SERVE_AGAIN_MS. Then the load must be complete (nothing lost or doubled, every Mirror
 * caught up), the inbox drained, and no host may ever have run two workers for one partition.
 */
async function survives(name: string, hostCount: number, faults: Fault[]): Promise<void> {
  const random = seededRandom(SEED);
  const namespace = uniqueNamespace("natsfault");
  const children: HostChild[] = [];
  for (let i = 0; i < hostCount; i++) children.push(await startHost(namespace));
  const client = await connect({ servers: nats.url, namespace, timeoutMs: 1000 });
  try {
    const keys = probeKeys();
    expect(await eventually(async () => (await observe(client, keys, 1500)).stuck.length === 0, 30_000)).toBe(true);
    const load = new CrashLoad(client, { workers: 3, carts: 6, counters: 4 });
    load.start();
    const figures: string[] = [];
    for (const [i, fault] of faults.entries()) {
      await sleep(500 + Math.floor(random() * 1500));
      const callsBefore = load.stats.calls;
      const faultAt = Date.now();
      await inflict(fault);
      const backAt = Date.now();
      const { ms, stuck } = await observe(client, keys, OBSERVE_MS, backAt, true);
      const figure = `fault ${i + 1} (${fault.type}): every partition served from ${ms} ms after NATS came back on (${backAt - faultAt + ms} ms after the fault began); ${callsBefore} calls before it`;
      figures.push(figure);
      console.log(`${name}, seed ${SEED}: ${figure}`);
      if (stuck.length > 0) {
        // Tell a client that lost its way from partitions that did: ask again on a new connection.
        const fresh = await connect({ servers: nats.url, namespace, timeoutMs: 2000 });
        const answered = await Promise.all(stuck.map((p) => fresh.objectClient(counter, keys[p] ?? "").total(undefined).then(() => true, () => false)));
        await fresh.close();
        console.log(`${name}: partitions ${stuck.join(", ")} did not answer the test's client; a new client's calls to them: ${answered.join(", ")}`);
        console.log(`${name}: what NATS holds now: ${await natsView(namespace)}`);
      }
      expect(stuck, `${figure}; partitions that never answered`).toEqual([]);
      expect(ms, figure).toBeLessThanOrEqual(SERVE_AGAIN_MS);
    }
    // Serving once is not enough: a partition fenced by its own host's older worker dies a little later.
    // (A probe lost now and then to a 2 s timeout on a busy machine is not a dead partition: only
    // one still failing at the end of the window counts.)
    const later = await observe(client, keys, 5000);
    expect(later.stuck, "partitions that stopped answering after recovering").toEqual([]);
    await bounded(load.stop(), 60_000, "the load");
    const result = await bounded(load.check(), 90_000, "reading the load back");
    const inbox = await inboxDrained(namespace);
    console.log(`${name}, seed ${SEED}: ${result.summary}; inbox ${inbox.consumers}; most workers per partition ${children.map((c) => c.census).join(", ")}`);
    expect(result).toMatchObject({ lost: 0, duplicated: 0, countersOff: 0, mirrored: true, mirrorsOff: 0 });
    expect(load.stats.calls).toBeGreaterThan(20);
    expect(inbox.drained, inbox.consumers).toBe(true);
    expect(children.map((c) => c.census)).toEqual(children.map(() => 1));
  } finally {
    await client.close();
  }
}

it("serves every partition again after NATS is killed and restarted three times, with one worker per partition", async () => {
  await survives("kill -9 ×3, one host", 1, [{ type: "kill" }, { type: "kill" }, { type: "kill" }]);
}, 150_000);

it("serves every partition again after NATS is paused for 10 s and then killed three times, with two hosts", async () => {
  await survives("SIGSTOP 10 s + kill -9 ×3, two hosts", 2, [{ type: "pause", ms: 10_000 }, { type: "kill" }, { type: "kill" }, { type: "kill" }]);
}, 180_000);
