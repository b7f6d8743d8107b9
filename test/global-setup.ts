import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureChromiumForTests, ensureNatsServerForTests } from "./helpers/nats-install.js";

/**
 * Before any test: nats-server is there (installed now when this run is root with apt, else the run
 * stops at once with the command to install it), and chromium for the console test when it can be; one temporary root for every data dir the tests
 * make, removed when the run ends.
 */
export default function setup(): () => void {
  ensureNatsServerForTests();
  ensureChromiumForTests();
  const root = mkdtempSync(join(tmpdir(), "cairn-test-"));
  process.env.CAIRN_TEST_TMP = root;
  return () => rmSync(root, { recursive: true, force: true });
}
