import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

/** User+system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function rssMiB(pid: number | undefined): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match?.[1] ? Number(match[1]) / 1024 : Number.NaN;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The cart scenario's shape, the same in both modes: `BENCH_CARTS`, `BENCH_CALLS`, `BENCH_CONCURRENCY`, `BENCH_RUNS`. */
export const CART_SCENARIO = {
  carts: Number(process.env.BENCH_CARTS ?? 1000),
  calls: Number(process.env.BENCH_CALLS ?? 20_000),
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 64),
  warmup: 1000,
  runs: Number(process.env.BENCH_RUNS ?? 3),
};

/**
 * The durable-execution scenarios' shape (bench/durable-bench.ts): `BENCH_WORKFLOWS` process-order
 * workflows and `BENCH_CHAIN_CALLS` calls of the A → B chain over 1000 keys, `BENCH_CONCURRENCY` at a time.
 */
export const DURABLE_SCENARIO = {
  workflows: Number(process.env.BENCH_WORKFLOWS ?? 5000),
  calls: Number(process.env.BENCH_CHAIN_CALLS ?? 5000),
  keys: 1000,
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 64),
  warmup: 500,
  runs: Number(process.env.BENCH_RUNS ?? 3),
};

/** Runs `task(0..total-1)` with at most `concurrency` at a time. */
export async function runPool(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await task(next++);
    }),
  );
}

/** Calls/s, p50 and p99 of `total` timed calls run `concurrency` at a time, with a progress line on a terminal. */
export async function timedCalls(total: number, concurrency: number, call: (i: number) => Promise<unknown>): Promise<{ rate: number; p50: number; p99: number; seconds: number }> {
  const latencies: number[] = [];
  let done = 0;
  const progress = setInterval(() => process.stdout.isTTY && process.stdout.write(`  ${done}/${total} calls\r`), 1000);
  const started = performance.now();
  try {
    await runPool(total, concurrency, async (i) => {
      const t0 = performance.now();
      await call(i);
      latencies.push(performance.now() - t0);
      done++;
    });
  } finally {
    clearInterval(progress);
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rate: total / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), seconds };
}

/** The median of runs by rate: one machine's noise moves single runs by ±10%. */
export function medianByRate<T extends { rate: number }>(runs: T[]): T {
  return [...runs].sort((a, b) => a.rate - b.rate)[Math.floor(runs.length / 2)] as T;
}
