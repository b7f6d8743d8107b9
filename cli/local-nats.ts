import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode, NatsError, connect } from "nats";
import { requireJetStream } from "../runtime/transport/nats/index.js";
import { DEFAULT_NATS_URL, authEnv, localAuth, natsFromEnv, stateDir } from "./nats-auth.js";
import { requireNatsServer } from "./nats-binary.js";
import { ScriptError, UnreachableError } from "./errors.js";

export { DEFAULT_NATS_URL } from "./nats-auth.js";

/** A NATS server for a script: one that answered, or one this process started (then `pid` is set). */
export interface LocalNats {
  url: string;
  /** The nats-server this process started, if it started one. */
  pid: number | undefined;
  /** Stops the nats-server this process started (SIGTERM, then SIGKILL after 5 s); resolves once it is gone. */
  stop(): Promise<void>;
  /** SIGKILLs it at once, for a process that is exiting and cannot wait. */
  kill(): void;
}

const DEFAULT_PORT = 4222;

/**
 * Whether a server answers at `url`, and then that it has JetStream; one that refuses the host's
 * credentials or has no JetStream is an error to fix, not a reason to start another.
 */
async function answers(url: string): Promise<boolean> {
  const { user, pass, token } = natsFromEnv("host", { ...process.env, CAIRN_NATS_URL: url });
  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    nc = await connect({ servers: url, reconnect: false, timeout: 1000, user, pass, token });
  } catch (error) {
    if (error instanceof NatsError && error.code === ErrorCode.AuthorizationViolation) {
      throw new ScriptError(
        `the NATS server at ${url} refuses the host's credentials (${String(error)}).\nSet CAIRN_NATS_USER and CAIRN_NATS_PASSWORD (or CAIRN_NATS_TOKEN, CAIRN_NATS_CREDS) for it, or remove ${join(stateDir(), "nats-auth.json")} if it belongs to another server.`,
      );
    }
    return false;
  }
  try {
    await requireJetStream(nc);
    return true;
  } finally {
    await nc.close();
  }
}

/** The port of a single loopback URL, where this process may start a server; undefined for any other. */
function loopbackPort(url: string): number | undefined {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || parsed.protocol !== "nats:" || !["127.0.0.1", "localhost"].includes(parsed.hostname)) return undefined;
  return parsed.port === "" ? DEFAULT_PORT : Number(parsed.port);
}

/** The server at `url`, which must answer (a URL the user gave). */
export async function existingNats(url: string): Promise<LocalNats> {
  if (!(await answers(url))) throw new UnreachableError(`no NATS server answers at ${url}`);
  return { url, pid: undefined, stop: async () => undefined, kill: () => undefined };
}

/**
 * The NATS server at `url` (default `CAIRN_NATS_URL`, else 127.0.0.1:4222) when one answers;
 * otherwise, for a loopback URL, starts `nats-server -c nats.conf` on its port (store and log under
 * the state dir, users from nats-auth.conf with the passwords of `<state dir>/nats-auth.json`, made on
 * first use). The server runs in its own process group, so that a Ctrl-C reaches this process only and
 * the host closes before its server stops.
 */
export async function ensureLocalNats(url = process.env.CAIRN_NATS_URL ?? DEFAULT_NATS_URL): Promise<LocalNats> {
  if (await answers(url)) {
    console.log(`using the NATS server at ${url}`);
    return { url, pid: undefined, stop: async () => undefined, kill: () => undefined };
  }
  const port = loopbackPort(url);
  if (port === undefined) throw new UnreachableError(`no NATS server answers at ${url}`);
  const binary = requireNatsServer();
  const dir = resolve(stateDir());
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, "nats-server.log");
  // nats.conf reads its store dir from the environment; nats-server parses a relative value as a number.
  const env = { ...process.env, ...authEnv(localAuth()), CAIRN_NATS_STORE_DIR: join(dir, "nats") };
  // nats.conf's monitoring port belongs to the server on the default port; another one has none.
  const args = ["-c", "nats.conf", "-p", String(port), ...(port === DEFAULT_PORT ? [] : ["-m", "0"])];
  const child: ChildProcess = spawn(binary, args, { env, detached: true, stdio: ["ignore", "ignore", openSync(logFile, "a")] });
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const kill = () => void (gone() || child.kill("SIGKILL"));
  const stop = async () => {
    if (gone()) return;
    child.kill("SIGTERM");
    if ((await Promise.race([exited.then(() => true), sleep(5000, false)])) === false) kill();
    await exited;
  };
  const deadline = Date.now() + 10_000;
  while (!(await answers(url))) {
    if (gone() || Date.now() > deadline) {
      kill();
      throw new ScriptError(`nats-server did not start on ${url} (see ${logFile})`);
    }
    await sleep(100);
  }
  console.log(`started nats-server (pid ${child.pid}) with nats.conf on ${url} (log: ${logFile})`);
  return { url, pid: child.pid, stop, kill };
}
