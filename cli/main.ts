// The `cairn` executable: bin/cairn.js runs the built copy of this file, `npm run cairn` the sources.
import { readFileSync } from "node:fs";
import { runCairn } from "./program.js";

// Two levels up in dist/ (dist/cli/main.js), one in the sources (cli/main.ts).
function packageVersion(): string {
  for (const path of ["../package.json", "../../package.json"]) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8"));
      if (typeof parsed === "object" && parsed !== null && "name" in parsed && parsed.name === "cairn" && "version" in parsed && typeof parsed.version === "string") return parsed.version;
    } catch {
      // not at this level
    }
  }
  return "unknown";
}

const code = await runCairn(process.argv.slice(2), packageVersion());
// `start` keeps running after its action returns: the host holds the event loop until a signal.
if (code !== 0) process.exit(code);
