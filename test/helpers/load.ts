import type { CairnClient } from "cairn/client";
import { type CrashCheck, checkCrashOps, runCrashOp } from "./crash-ops.js";

/**
 * The crash tests' load: workers adding cart items (each with its own idempotency key) and
 * Counter increments (each Counter sends the increment on to its Mirror), retrying every call
 * until it is acknowledged. `check()` then counts what was lost or done twice.
 */
export class CrashLoad {
  readonly stats = { retries: 0, calls: 0 };
  private readonly acknowledged: number[] = [];
  private stopping = false;
  private running: Promise<unknown> | undefined;
  private next = 0;

  constructor(
    private readonly client: CairnClient,
    private readonly shape = { workers: 24, carts: 12, counters: 6 },
  ) {}

  start(): void {
    this.running = Promise.all(Array.from({ length: this.shape.workers }, () => this.worker()));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private async worker(): Promise<void> {
    while (!this.stopping) {
      const n = this.next++;
      await runCrashOp(this.client, n, this.shape, this.stats);
      this.acknowledged.push(n);
      this.stats.calls++;
    }
  }

  /** Reads every cart and counter back (after `stop()`) and counts the violations. */
  async check(): Promise<CrashCheck> {
    const result = await checkCrashOps(this.client, this.acknowledged, this.shape, this.stats);
    return { ...result, summary: `${this.stats.retries} retries; ${result.summary}` };
  }
}
