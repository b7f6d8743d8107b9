import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureNatsServerForTests } from "./helpers/nats-install.js";

/**
 * Before any test: nats-server is there (installed now when this run is root with apt, else the run
 * stops at once with the command to install it); one temporary root for every data dir the tests
 * make, removed when the run ends.
 */
export default function setup(): () => void {
  ensureNatsServerForTests();
  const root = mkdtempSync(join(tmpdir(), "cairn-test-"));
  process.env.CAIRN_TEST_TMP = root;
  return () => rmSync(root, { recursive: true, force: true });
}
