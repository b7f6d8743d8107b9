import { afterAll, beforeAll, beforeEach } from "vitest";
import type { AnyDefinition } from "cairn";
import { type CairnClient, connect } from "cairn/client";
import { type Host, type HostOptions, startHost } from "cairn/runtime";
import { tempDir, uniqueNamespace } from "./host.js";
import { type NatsServer, startNatsServer } from "./nats-server.js";

/**
 * The conformance suite's modes: every behaviour is written once, in a `describe.each(modes)`, and
 * runs against an embedded host and against a host over NATS.
 *
 * `CAIRN_MODES=nats` (a comma list) runs only the modes named. A mode that is not run is still
 * listed, as pending with its reason, so that a skipped embedded suite shows up as skipped.
 */
export const ModeName = { Embedded: "embedded", Nats: "nats" } as const;
export type ModeName = (typeof ModeName)[keyof typeof ModeName];

export interface Mode {
  readonly name: ModeName;
  /** Hosts replay every invocation after each of its suspension points (`alwaysReplay`). */
  readonly alwaysReplay: boolean;
  /** The describe block's title: the mode, and why it is pending when it is. */
  readonly label: string;
  /** Why this mode's tests are skipped, or undefined when they run. */
  readonly pending: string | undefined;
}

/** Host options a test may set; the mode sets services, data dir, NATS and namespace. */
export type ModeHostOptions = Omit<HostOptions, "services" | "dataDir" | "nats" | "namespace">;

export interface StartOptions {
  services: AnyDefinition[];
  /** A new temporary dir unless given. */
  dataDir?: string;
  host?: ModeHostOptions;
  /** The NATS-mode client's call timeout (embedded mode uses `host.client` as it is). */
  clientTimeoutMs?: number;
}

/** A host started by a mode, with the client a user would call it through. */
export interface ModeHost {
  /** The running host; replaced by `restart()`. */
  readonly host: Host;
  /**
   * The way in from outside: a `connect()` client over NATS, `host.client` in embedded mode. Read it
   * after a restart, not before: in embedded mode it is the new host's.
   */
  readonly client: CairnClient;
  readonly dataDir: string;
  /** Closes the host and starts it again on the same data dir (and, over NATS, the same namespace). */
  restart(): Promise<void>;
  /** Closes the client and the host; called for every host still open when the describe block ends. */
  close(): Promise<void>;
}

export interface ModeContext {
  readonly mode: Mode;
  /** The file's nats-server (NATS mode only, once `beforeAll` ran). */
  readonly natsUrl: string | undefined;
  /** Starts a host (inside a test or hook). */
  start(options: StartOptions): Promise<ModeHost>;
  /**
   * A host for every test of the block: started in a `beforeAll` (none when the mode is pending),
   * closed when the block ends. Use its members inside tests only.
   */
  sharedHost(options: StartOptions): ModeHost;
}

function selectedModes(): Set<ModeName> {
  const names = (process.env.CAIRN_MODES ?? "embedded,nats").split(",").map((s) => s.trim()).filter(Boolean);
  const known = new Set<string>(Object.values(ModeName));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) throw new Error(`CAIRN_MODES: unknown mode ${unknown.join(", ")} (known: ${[...known].join(", ")})`);
  return new Set(names as ModeName[]);
}

function resolveModes(): Mode[] {
  const selected = selectedModes();
  const mode = (name: ModeName, alwaysReplay = false): Mode => {
    const pending = selected.has(name) ? undefined : "not in CAIRN_MODES";
    const title = `${name} mode${alwaysReplay ? ", replaying at every suspension point" : ""}`;
    return { name, alwaysReplay, pending, label: pending ? `${title} (pending: ${pending})` : title };
  };
  return [mode(ModeName.Embedded), mode(ModeName.Nats), mode(ModeName.Embedded, true), mode(ModeName.Nats, true)];
}

const allModes = resolveModes();

/** The two modes. */
export const modes: Mode[] = allModes.filter((m) => !m.alwaysReplay);

/**
 * The durable-execution tests run twice: in each mode, and again with hosts that replay every
 * invocation after each of its suspension points (Restate's `alwaysReplay`), so that a replay
 * path that differs from the first run fails here.
 */
export const durableModes: Mode[] = allModes;

/**
 * Sets up a mode for the tests of one describe block: over NATS, one nats-server for the block
 * (the suite has one `describe.each(modes)` per file, so one server per file). Every host started
 * through it is closed when the block ends. A pending mode skips each of the block's tests.
 */
export function useMode(mode: Mode): ModeContext {
  let nats: NatsServer | undefined;
  const open = new Set<ModeHost>();

  if (mode.pending !== undefined) {
    const reason = mode.pending;
    beforeEach((context) => context.skip(reason));
  } else {
    beforeAll(async () => {
      if (mode.name === ModeName.Nats) nats = await startNatsServer();
    });
    afterAll(async () => {
      for (const h of [...open].reverse()) await h.close();
      await nats?.stop();
    });
  }

  const start = async (options: StartOptions): Promise<ModeHost> => {
    const dataDir = options.dataDir ?? tempDir();
    const common = { logLevel: "silent" as const, ...(mode.alwaysReplay ? { alwaysReplay: true } : {}), ...options.host, services: options.services, dataDir };
    let launch: () => Promise<{ host: Host; client: CairnClient; closeClient: () => Promise<void> }>;
    switch (mode.name) {
      case ModeName.Embedded:
        launch = async () => {
          const host = await startHost(common);
          return { host, client: host.client, closeClient: async () => undefined };
        };
        break;
      case ModeName.Nats: {
        const url = nats?.url;
        if (url === undefined) throw new Error("NATS mode: start hosts inside tests or hooks, after the mode's beforeAll");
        const namespace = uniqueNamespace();
        launch = async () => {
          const host = await startHost({ ...common, nats: { servers: url }, namespace });
          const client = await connect({ servers: url, namespace, ...(options.clientTimeoutMs ? { timeoutMs: options.clientTimeoutMs } : {}) });
          return { host, client, closeClient: () => client.close() };
        };
        break;
      }
      default: {
        const never: never = mode.name;
        throw new Error(`unknown mode ${String(never)}`);
      }
    }
    let current = await launch();
    let closed: Promise<void> | undefined;
    const stop = async () => {
      await current.closeClient();
      await current.host.close();
    };
    const modeHost: ModeHost = {
      get host() {
        return current.host;
      },
      get client() {
        return current.client;
      },
      dataDir,
      async restart() {
        await stop();
        current = await launch();
      },
      close() {
        open.delete(modeHost);
        return (closed ??= stop());
      },
    };
    open.add(modeHost);
    return modeHost;
  };

  const sharedHost = (options: StartOptions): ModeHost => {
    let started: ModeHost | undefined;
    if (mode.pending === undefined) {
      beforeAll(async () => {
        started = await start(options);
      });
    }
    const get = (): ModeHost => {
      if (!started) throw new Error("sharedHost: use it inside tests, once its beforeAll ran");
      return started;
    };
    return {
      get host() {
        return get().host;
      },
      get client() {
        return get().client;
      },
      get dataDir() {
        return get().dataDir;
      },
      restart: () => get().restart(),
      close: () => get().close(),
    };
  };

  return {
    mode,
    get natsUrl() {
      return nats?.url;
    },
    start,
    sharedHost,
  };
}
