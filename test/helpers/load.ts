import type { CairnClient } from "cairn/client";
import { counter, mirror } from "../../examples/counter.js";
import { shoppingCart } from "../../examples/shopping-cart.js";
import { eventually, untilAcknowledged } from "./host.js";

/**
 * The crash tests' load: workers adding cart items (each with its own idempotency key) and
 * Counter increments (each Counter sends the increment on to its Mirror), retrying every call
 * until it is acknowledged. `check()` then counts what was lost or done twice.
 */
export class CrashLoad {
  readonly stats = { retries: 0, calls: 0 };
  private readonly acknowledged = new Map<string, Set<string>>();
  private readonly counterAdds = new Map<string, number>();
  private stopping = false;
  private running: Promise<unknown> | undefined;
  private next = 0;

  constructor(
    private readonly client: CairnClient,
    private readonly shape = { workers: 24, carts: 12, counters: 6 },
  ) {}

  start(): void {
    this.running = Promise.all(Array.from({ length: this.shape.workers }, (_, w) => this.worker(w)));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private async worker(w: number): Promise<void> {
    const { client, stats } = this;
    while (!this.stopping) {
      const n = this.next++;
      if (n % 3 === 2) {
        const key = `counter-${n % this.shape.counters}`;
        await untilAcknowledged(() => client.objectClient(counter, key).add(1, { idempotencyKey: `add-${n}` }), stats);
        this.counterAdds.set(key, (this.counterAdds.get(key) ?? 0) + 1);
      } else {
        const key = `cart-${n % this.shape.carts}`;
        const sku = `sku-${n}`;
        await untilAcknowledged(() => client.objectClient(shoppingCart, key).addItem({ sku, qty: 1, priceCents: w }, { idempotencyKey: sku }), stats);
        const set = this.acknowledged.get(key) ?? new Set<string>();
        set.add(sku);
        this.acknowledged.set(key, set);
      }
      stats.calls++;
    }
  }

  /** Reads every cart and counter back (after `stop()`) and counts the violations. */
  async check(): Promise<{ summary: string; lost: number; duplicated: number; countersOff: number; mirrorsOff: number; mirrored: boolean }> {
    const { client, stats } = this;
    let lost = 0;
    let duplicated = 0;
    for (const [key, skus] of this.acknowledged) {
      const items = await untilAcknowledged(() => client.objectClient(shoppingCart, key).getItems(), stats);
      const seen = new Map<string, number>();
      for (const item of items) seen.set(item.sku, (seen.get(item.sku) ?? 0) + 1);
      for (const sku of skus) if (!seen.has(sku)) lost++;
      for (const [sku, count] of seen) {
        if (count > 1) duplicated += count - 1;
        if (!skus.has(sku)) duplicated++;
      }
    }
    const totals = async (key: string) => ({
      counter: await untilAcknowledged(() => client.objectClient(counter, key).total(), stats),
      mirror: await untilAcknowledged(() => client.objectClient(mirror, key).total(), stats),
    });
    const mirrored = await eventually(
      async () => {
        for (const key of this.counterAdds.keys()) {
          const t = await totals(key);
          if (t.counter !== t.mirror) return false;
        }
        return true;
      },
      30_000,
      200,
    );
    let countersOff = 0;
    let mirrorsOff = 0;
    for (const [key, adds] of this.counterAdds) {
      const t = await totals(key);
      if (t.counter !== adds) countersOff++;
      if (t.mirror !== t.counter) mirrorsOff++;
    }
    const carts = [...this.acknowledged.values()].reduce((sum, s) => sum + s.size, 0);
    const summary =
      `${stats.calls} calls acknowledged (${carts} addItem, ${stats.calls - carts} Counter.add), ${stats.retries} retries; ` +
      `lost ${lost}, duplicated ${duplicated}, counters off ${countersOff}, mirrors off ${mirrorsOff}`;
    return { summary, lost, duplicated, countersOff, mirrorsOff, mirrored };
  }
}
