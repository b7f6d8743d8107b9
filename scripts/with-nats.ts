// Runs a program with a local NATS server: `with-nats.ts FILE` (sets CAIRN_NATS_URL for it).
import { spawn } from "node:child_process";
import { ensureLocalNats } from "./local-nats.js";

const file = process.argv[2];
if (!file) throw new Error("usage: with-nats.ts FILE.ts");
const nats = await ensureLocalNats();
const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", file, ...process.argv.slice(3)], {
  stdio: "inherit",
  env: { ...process.env, CAIRN_NATS_URL: nats.url },
});
child.once("exit", (code) => {
  nats.stop();
  process.exitCode = code ?? 1;
});
