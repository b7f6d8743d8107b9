// Running a host in the foreground until a signal: what `cairn start` and `npm start` share. It stops,
// and stops any nats-server it started, on Ctrl-C, SIGTERM, SIGHUP (a closed terminal) and when the
// process that ran it (npm, npx) is gone.
import { type Host, startHost } from "../runtime/index.js";
import type { AnyDefinition } from "../sdk/index.js";
import { exitOnError } from "./errors.js";
import { type LocalNats, ensureLocalNats, existingNats } from "./local-nats.js";
import { natsFromEnv } from "./nats-auth.js";
import { scriptLogger } from "./logger.js";

/** Where the host's invocations come through. */
export type NatsChoice =
  | { type: "embedded" }
  /** A server the user named: it must answer. */
  | { type: "server"; url: string }
  /** A loopback server, started here when none answers. */
  | { type: "local"; url: string };

export interface ServeOptions {
  services: AnyDefinition[];
  nats: NatsChoice;
  dataDir: string;
  /** The HTTP ingress port on loopback; 0 picks a free one; undefined: no ingress. */
  httpPort: number | undefined;
  /** A bearer token the ingress then requires; undefined: none. */
  ingressToken: string | undefined;
  /** The admin endpoint's port on loopback (0 picks a free one) and bearer token; undefined: none. */
  admin: { port: number; token: string | undefined } | undefined;
  /** The namespace's partition count (fixed when it is created); undefined: the host's default. */
  partitions: number | undefined;
  /** History entries kept per object key (`historyEntriesPerKey`); undefined: the host's default (none). */
  historyEntriesPerKey?: number;
}

/** What the running host tells its user once it serves; printed on stdout. */
export type Banner = (host: Host, server: LocalNats | undefined) => string;

// A closed terminal makes writes fail with EIO/EPIPE; that must not kill the process mid-shutdown.
function ignoreBrokenStdio(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);
}

/** Starts the host, prints `banner`, and keeps the process until a signal stops it (then exits 0). */
export async function serve(options: ServeOptions, banner: Banner): Promise<void> {
  ignoreBrokenStdio();
  let nats: LocalNats | undefined;
  let host: Host | undefined;
  // Whatever ends this process, a nats-server it started goes with it.
  process.once("exit", () => nats?.kill());
  const start = async () => {
    nats = await connectNats(options.nats);
    const base = {
      services: options.services,
      dataDir: options.dataDir,
      logger: scriptLogger(),
      ...(options.httpPort === undefined ? {} : { ingress: { port: options.httpPort, ...(options.ingressToken === undefined ? {} : { token: options.ingressToken }) } }),
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
      ...(options.historyEntriesPerKey === undefined ? {} : { historyEntriesPerKey: options.historyEntriesPerKey }),
      ...(options.admin === undefined ? {} : { admin: { port: options.admin.port, ...(options.admin.token === undefined ? {} : { token: options.admin.token }) } }),
    };
    host = await startHost(nats ? { ...base, nats: { ...natsFromEnv("host", { ...process.env, CAIRN_NATS_URL: nats.url }), servers: nats.url } } : base);
    console.log(banner(host, nats));
  };
  const started = start();
  // A signal during start-up waits for the start to settle, then closes whatever it opened.
  watchForStop(async () => {
    await started.catch(() => undefined);
    await host?.close();
    await nats?.stop();
  });
  await started.catch(async (error: unknown) => {
    await Promise.resolve(host?.close()).catch(() => undefined);
    await nats?.stop();
    exitOnError(error);
  });
}

async function connectNats(choice: NatsChoice): Promise<LocalNats | undefined> {
  switch (choice.type) {
    case "embedded":
      return undefined;
    case "server":
      return existingNats(choice.url);
    case "local":
      return ensureLocalNats(choice.url);
    default: {
      const unknownChoice: never = choice;
      throw new Error(`unknown NATS choice ${JSON.stringify(unknownChoice)}`);
    }
  }
}

/** How long stopping may take before the process exits anyway (the host drains for up to 10 s). */
const STOP_DEADLINE_MS = 20_000;

/**
 * Calls `stop` once on SIGINT, SIGTERM, SIGHUP, or when this process's parent (npm, which does not
 * pass SIGHUP on) is gone. A Ctrl-C pressed again exits at once; a signal within a second of the
 * first is the same one arriving twice (from the terminal's process group and again from npm, which
 * passes SIGINT and SIGTERM on to its child) and is ignored.
 */
function watchForStop(stop: () => Promise<unknown>): void {
  let requested = false;
  let firstAt = 0;
  const begin = (reason: string) => {
    if (requested) {
      if (reason !== "SIGINT" || Date.now() - firstAt < 1000) return;
      console.error("SIGINT again: exiting now");
      process.exit(1);
    }
    firstAt = Date.now();
    requested = true;
    console.error(`${reason}: stopping…`);
    setTimeout(() => {
      console.error(`still stopping after ${STOP_DEADLINE_MS} ms: exiting now`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    void stop().then(() => process.exit(0), (error: unknown) => exitOnError(error));
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => begin(signal));
  const parent = process.ppid;
  // Polled: Node has no parent-death signal. Unref'd, so it never keeps the process alive by itself.
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    begin("parent process gone");
  }, 500).unref();
}
