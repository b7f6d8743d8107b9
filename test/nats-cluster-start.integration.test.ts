import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startNatsCluster } from "./helpers/nats-cluster.js";
import { freePort, startNatsServer } from "./helpers/nats-server.js";

describe("startNatsCluster", () => {
  const dir = mkdtempSync(join(process.env.CAIRN_TEST_TMP ?? tmpdir(), "cluster-store-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("becomes ready with a store dir given relative to the working directory, as `npm run nats:cluster` gives it", async () => {
    // nats-server reads an environment variable's value as a config value: ".cairn/…" parses as a
    // malformed number, and every node exited at once while the readiness wait waited forever.
    const storeDir = relative(process.cwd(), dir);
    expect(storeDir.startsWith(".")).toBe(true);
    const cluster = await startNatsCluster({ storeDir });
    try {
      expect(cluster.urls).toHaveLength(3);
      expect(readdirSync(dir).sort()).toEqual(["n1", "n2", "n3"]);
    } finally {
      await cluster.stop();
    }
  }, 40_000);

  it("fails at once, with the node's own error, when a node cannot start", async () => {
    await using taken = await startNatsServer();
    const port = Number(new URL(taken.url).port);
    const started = Date.now();
    await expect(startNatsCluster({ clientPorts: [port, await freePort(), await freePort()] })).rejects.toThrow(/node n1 exited .*address already in use/s);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 40_000);
});
