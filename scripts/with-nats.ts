// Runs a program with a local NATS server: `with-nats.ts FILE` (sets CAIRN_NATS_URL for it).
import { spawn } from "node:child_process";
import { ensureLocalNats } from "../cli/local-nats.js";
import { natsFromEnv } from "../cli/nats-auth.js";

const file = process.argv[2];
if (!file) throw new Error("usage: with-nats.ts FILE.ts");
const nats = await ensureLocalNats();
const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", file, ...process.argv.slice(3)], {
  stdio: "inherit",
  env: { ...process.env, ...credentialsEnv(), CAIRN_NATS_URL: nats.url },
});
child.once("exit", (code) => {
  nats.stop();
  process.exitCode = code ?? 1;
});

/** The host user's credentials, for a program that reads CAIRN_NATS_USER and CAIRN_NATS_PASSWORD. */
function credentialsEnv(): Record<string, string> {
  const { user, pass } = natsFromEnv("host");
  return user ? { CAIRN_NATS_USER: user, CAIRN_NATS_PASSWORD: pass ?? "" } : {};
}
