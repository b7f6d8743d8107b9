#!/usr/bin/env node
// The `cairn` command: runs the built CLI in dist/ (`npm run build` makes it; `npm ci` does too).
// Inside this repo, `npm run cairn -- …` runs the sources instead.
import { existsSync } from "node:fs";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  console.error("cairn: dist/ is not built: run `npm run build` first (or `npm run cairn -- …` to run the sources)");
  process.exit(1);
}
await import(main.href);
