import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One temporary root for every data dir the tests make, removed when the run ends. */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "cairn-test-"));
  process.env.CAIRN_TEST_TMP = root;
  return () => rmSync(root, { recursive: true, force: true });
}
