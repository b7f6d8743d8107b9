import type { CairnClient } from "cairn/client";
import { counter, mirror } from "../../examples/counter.js";
import { shoppingCart } from "../../examples/shopping-cart.js";
import { eventually, untilAcknowledged } from "./host.js";

/** How many carts and counters the crash load spreads its operations over. */
export interface CrashShape {
  carts: number;
  counters: number;
}

/** The shape of test/fixtures/crash-load-main.ts's load: 24 workers. */
export const CRASH_LOAD_SHAPE = { workers: 24, carts: 12, counters: 6 };

/**
 * Operation `n` of a crash load: every third a `Counter.add(1)` (which the Counter forwards to its
 * Mirror), the others a cart `addItem` of a sku of its own. Derived from `n` alone, so that a
 * process that did not start an operation can repeat it with the same idempotency key.
 */
export type CrashOp =
  | { type: "addItem"; key: string; sku: string; priceCents: number }
  | { type: "add"; key: string; idempotencyKey: string };

export function crashOp(n: number, shape: CrashShape): CrashOp {
  if (n % 3 === 2) return { type: "add", key: `counter-${n % shape.counters}`, idempotencyKey: `add-${n}` };
  return { type: "addItem", key: `cart-${n % shape.carts}`, sku: `sku-${n}`, priceCents: n % 100 };
}

/** Runs operation `n` until it is acknowledged, with its idempotency key on every try. */
export async function runCrashOp(client: CairnClient, n: number, shape: CrashShape, stats: { retries: number } = { retries: 0 }): Promise<void> {
  const op = crashOp(n, shape);
  switch (op.type) {
    case "add":
      await untilAcknowledged(() => client.objectClient(counter, op.key).add(1, { idempotencyKey: op.idempotencyKey }), stats);
      return;
    case "addItem":
      await untilAcknowledged(
        () => client.objectClient(shoppingCart, op.key).addItem({ sku: op.sku, qty: 1, priceCents: op.priceCents }, { idempotencyKey: op.sku }),
        stats,
      );
      return;
    default: {
      const never: never = op;
      throw new Error(`unknown crash op ${JSON.stringify(never)}`);
    }
  }
}

export interface CrashCheck {
  summary: string;
  /** Acknowledged cart items missing from their cart. */
  lost: number;
  /** Cart items present more than once, or present without being acknowledged. */
  duplicated: number;
  /** Counters whose total is not their number of acknowledged adds. */
  countersOff: number;
  /** Mirrors whose total is not their Counter's, once they had time to catch up. */
  mirrorsOff: number;
  /** Every Mirror caught up with its Counter within the wait. */
  mirrored: boolean;
}

/**
 * Reads every cart and counter the `acknowledged` operations touched back and counts what was lost
 * or done twice. Every operation started must be acknowledged by then.
 */
export async function checkCrashOps(client: CairnClient, acknowledged: Iterable<number>, shape: CrashShape, stats: { retries: number } = { retries: 0 }): Promise<CrashCheck> {
  const skusByCart = new Map<string, Set<string>>();
  const addsByCounter = new Map<string, number>();
  for (const n of acknowledged) {
    const op = crashOp(n, shape);
    if (op.type === "add") addsByCounter.set(op.key, (addsByCounter.get(op.key) ?? 0) + 1);
    else skusByCart.set(op.key, (skusByCart.get(op.key) ?? new Set()).add(op.sku));
  }
  let lost = 0;
  let duplicated = 0;
  for (const [key, skus] of skusByCart) {
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
      for (const key of addsByCounter.keys()) {
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
  for (const [key, adds] of addsByCounter) {
    const t = await totals(key);
    if (t.counter !== adds) countersOff++;
    if (t.mirror !== t.counter) mirrorsOff++;
  }
  const items = [...skusByCart.values()].reduce((sum, s) => sum + s.size, 0);
  const adds = [...addsByCounter.values()].reduce((sum, a) => sum + a, 0);
  const summary = `${items + adds} operations acknowledged (${items} addItem, ${adds} Counter.add); lost ${lost}, duplicated ${duplicated}, counters off ${countersOff}, mirrors off ${mirrorsOff}`;
  return { summary, lost, duplicated, countersOff, mirrorsOff, mirrored };
}
