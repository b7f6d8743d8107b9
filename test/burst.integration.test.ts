import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect } from "cairn/client";
import { shoppingCart } from "../examples/shopping-cart.js";
import { tempDir, uniqueNamespace } from "./helpers/host.js";
import { killProcess, startHostProcess } from "./helpers/host-process.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

let nats: NatsServer;
let host: ChildProcess | undefined;

beforeAll(async () => {
  nats = await startNatsServer();
});

afterAll(async () => {
  await killProcess(host);
  await nats?.stop();
});

// A burst with no retries: every call must be answered on its own. (With lmdb-js's event-turn
// batching off, the host lost the last commits of a burst, or died of an orphan promise, in about
// half the runs; the crash tests did not notice, since their clients retry.)
it("answers every call of a burst of 3000 at concurrency 64, without a retry, and stays up", async () => {
  const namespace = uniqueNamespace("burst");
  host = await startHostProcess({ natsUrl: nats.url, namespace, dataDir: tempDir(), partitions: 32 });
  const client = await connect({ servers: nats.url, namespace, timeoutMs: 20_000 });
  try {
    const failed: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < 3000) {
          const i = next++;
          await client
            .objectClient(shoppingCart, `cart-${i % 1000}`)
            .addItem({ sku: `sku-${i}`, qty: 1, priceCents: 100 }, { idempotencyKey: `k-${i}` })
            .catch((error: unknown) => failed.push(`call ${i}: ${String(error)}`));
        }
      }),
    );
    expect(failed).toEqual([]);
    expect(host.exitCode).toBeNull();
    const items = await client.objectClient(shoppingCart, "cart-7").getItems();
    expect(items).toHaveLength(3);
  } finally {
    await client.close();
  }
}, 90_000);
