// `npm run bench` (durable execution): the two-step process-order workflow and a request-response
// chain A → B whose caller suspends, both at concurrency 64 through host.client against an embedded
// host in this process; then the workflow over NATS, its host in a process of its own.
import { rmSync } from "node:fs";
import { type CairnClient, connect } from "cairn/client";
import { startHost } from "cairn/runtime";
import { tempDir, uniqueNamespace } from "../test/helpers/host.js";
import { killProcess, startFixtureProcess } from "../test/helpers/host-process.js";
import { startNatsServer } from "../test/helpers/nats-server.js";
import { chainA, durableBenchServices, processOrder } from "./durable-services.js";
import { DURABLE_SCENARIO, cpuSeconds, medianByRate, runPool, timedCalls } from "./measure.js";

const { workflows: WORKFLOWS, calls: CHAIN_CALLS, keys: KEYS, concurrency: CONCURRENCY, warmup: WARMUP, runs: RUNS } = DURABLE_SCENARIO;

interface Result {
  rate: number;
  p50: number;
  p99: number;
  cpu: number;
}

/** What both scenarios call through: host.client (embedded) or a connect() client (NATS). */
type Client = CairnClient;
type Call = (client: Client, i: number) => Promise<unknown>;

// A workflow runs once per key: every order of every run (and the warm-up) has an id of its own.
let runId = 0;
const runOrder = (): Call => {
  const run = ++runId;
  return (client, i) => client.workflowClient(processOrder, `order-${run}-${i}`).run({ amountCents: 1999, plan: "monthly" });
};
const askChain: Call = (client, i) => client.objectClient(chainA, `chain-${i % KEYS}`).ask(i);

/** `total` timed calls after the warm-up, with the CPU share of `pids` (this process, and the host's when it has one). */
async function measured(client: Client, call: Call, total: number, pids: number[]): Promise<Result> {
  await runPool(WARMUP, CONCURRENCY, async (i) => void (await call(client, total + i)));
  const cpu0 = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const r = await timedCalls(total, CONCURRENCY, (i) => call(client, i));
  const cpu = (pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - cpu0) / r.seconds;
  return { rate: r.rate, p50: r.p50, p99: r.p99, cpu };
}

/** One run on a fresh embedded host and data dir. */
async function embedded(call: Call, total: number): Promise<Result> {
  const dataDir = tempDir("cairn-durable-bench-");
  const host = await startHost({ services: durableBenchServices, dataDir, logLevel: "warn" });
  try {
    return await measured(host.client, call, total, [process.pid]);
  } finally {
    await host.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One run against a NATS-mode host in its own process, on a fresh namespace and data dir. */
async function overNats(url: string, natsPid: number, call: Call, total: number): Promise<Result> {
  const namespace = uniqueNamespace("durable");
  const dataDir = tempDir("cairn-durable-bench-");
  const host = await startFixtureProcess("bench/durable-host-main.ts", [url, namespace, dataDir, "32"]);
  const client = await connect({ servers: url, namespace, timeoutMs: 60_000 });
  try {
    return await measured(client, call, total, [process.pid, host.pid ?? 0, natsPid]);
  } finally {
    await client.close();
    await killProcess(host);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function line(r: Result, unit: string): string {
  return `${r.rate.toFixed(0)} ${unit}/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, CPU ${(100 * r.cpu).toFixed(0)}% of a core`;
}

async function series(name: string, unit: string, once: () => Promise<Result>): Promise<Result> {
  const runs: Result[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const r = await once();
    console.log(`  run ${run}/${RUNS}: ${line(r, unit)}`);
    runs.push(r);
  }
  const median = medianByRate(runs);
  console.log(`  ${name} (median of ${RUNS}): ${line(median, unit)}`);
  return median;
}

console.log(
  `\ndurable, embedded: process-order workflow (ctx.run "charge", then ctx.run "create-subscription", in-process fake providers), ` +
    `${WORKFLOWS} workflows (after ${WARMUP} warm-up), concurrency ${CONCURRENCY}, through host.client; latency is end to end`,
);
await series("process-order", "workflows", () => embedded(runOrder(), WORKFLOWS));
console.log("  for comparison, on this machine class: DBOS 416 workflows/s, p99 272 ms (2 steps); Restate about 50 ms for 3 steps");
console.log(`durable, embedded: request-response chain A → B (A's exclusive handler awaits B's answer, suspended), ${CHAIN_CALLS} calls over ${KEYS} keys, concurrency ${CONCURRENCY}`);
await series("chain A → B", "calls", () => embedded(askChain, CHAIN_CALLS));

const nats = await startNatsServer();
try {
  console.log(`durable, NATS: process-order workflow, ${WORKFLOWS} workflows, concurrency ${CONCURRENCY}, host in its own process (32 partitions), CPU of client + host + nats-server`);
  await series("process-order over NATS", "workflows", () => overNats(nats.url, nats.pid, runOrder(), WORKFLOWS));
} finally {
  await nats.stop();
}
