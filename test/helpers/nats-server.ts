import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "nats";
import type { NatsConnectionOptions } from "cairn/client";
import { newPassword } from "../../cli/nats-auth.js";
import { requireNatsServer } from "../../cli/nats-binary.js";

/** The users and permissions Cairn ships (nats.conf and nats-cluster/node.conf include them). */
export const AUTH_CONFIG = resolve(import.meta.dirname, "../../nats-auth.conf");

export interface NatsServer extends AsyncDisposable {
  url: string;
  pid: number;
  /** How a host connects: with the `cairn-host` user's password when the server has the shipped users. */
  host: NatsConnectionOptions;
  /** How a client connects: the `cairn-client` user, allowed only to call. */
  client: NatsConnectionOptions;
  stop(): Promise<void>;
}

/** Passwords for the users of nats-auth.conf, and what nats-server needs in its environment to read them. */
export function shippedUsers(): { env: Record<string, string>; host: { user: string; pass: string }; client: { user: string; pass: string } } {
  const host = { user: "cairn-host", pass: newPassword() };
  const client = { user: "cairn-client", pass: newPassword() };
  return { env: { CAIRN_HOST_PASSWORD: host.pass, CAIRN_CLIENT_PASSWORD: client.pass }, host, client };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

type Users = ReturnType<typeof shippedUsers>;

/** Spawns `nats-server -c conf` and resolves once it answers on `url` (as the host user, with `users`). */
async function spawnServer(conf: string, url: string, users: Users | undefined): Promise<ChildProcess> {
  const child: ChildProcess = spawn(requireNatsServer(), ["-c", conf], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...users?.env } });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited early: ${stderr}`);
    try {
      const nc = await connect({ servers: url, reconnect: false, ...users?.host });
      await nc.close();
      return child;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`nats-server did not answer on ${url} within 10 s: ${stderr}`);
      }
      await sleep(50);
    }
  }
}

/** With `users`, the server runs under the users and permissions Cairn ships (nats-auth.conf). */
function writeConfig(dir: string, port: number, users: Users | undefined, jetstream = true): string {
  const conf = join(dir, "nats.conf");
  if (users) copyFileSync(AUTH_CONFIG, join(dir, "nats-auth.conf"));
  const jetstreamBlock = jetstream ? `jetstream { store_dir: "${join(dir, "js")}" }\n` : "";
  writeFileSync(conf, `listen: 127.0.0.1:${port}\nmax_payload: 8MB\n${jetstreamBlock}${users ? "include ./nats-auth.conf\n" : ""}`);
  return conf;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/**
 * Starts a real `nats-server` with JetStream on a free loopback port and a temporary store; with
 * `auth`, under the users and permissions Cairn ships (nats-auth.conf), with fresh passwords;
 * with `jetstream: false`, a plain server without JetStream.
 */
export async function startNatsServer(options: { auth?: boolean; jetstream?: boolean } = {}): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-nats-"));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const users = options.auth ? shippedUsers() : undefined;
  const child = await spawnServer(writeConfig(dir, port, users, options.jetstream), url, users);
  const stop = async () => {
    await terminate(child);
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, pid: child.pid ?? 0, host: { servers: url, ...users?.host }, client: { servers: url, ...users?.client }, stop, [Symbol.asyncDispose]: stop };
}

/** A server that can be killed, paused and started again on the same port and store dir. */
export interface RestartableNatsServer extends NatsServer {
  /** SIGKILLs the server and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again (same port, same store) and waits until it answers. */
  restart(): Promise<void>;
  /** SIGSTOP: the process stays, holding its port, and answers nothing. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
}

/** Like `startNatsServer`, for tests that crash or pause the server itself. */
export async function startRestartableNatsServer(): Promise<RestartableNatsServer> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-nats-"));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const conf = writeConfig(dir, port, undefined);
  let child = await spawnServer(conf, url, undefined);
  const server: RestartableNatsServer = {
    url,
    host: { servers: url },
    client: { servers: url },
    get pid() {
      return child.pid ?? 0;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    },
    async restart() {
      await server.kill();
      child = await spawnServer(conf, url, undefined);
    },
    pause: () => void child.kill("SIGSTOP"),
    resume: () => void child.kill("SIGCONT"),
    async stop() {
      server.resume();
      await terminate(child);
      rmSync(dir, { recursive: true, force: true });
    },
    [Symbol.asyncDispose]: () => server.stop(),
  };
  return server;
}
