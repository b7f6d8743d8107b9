import pino, { type Logger } from "pino";
import { z } from "zod";
import type { AnyDefinition } from "../sdk/index.js";
import { HostNatsConnectionSchema, InboxPrefixSchema, type NatsConnection } from "../sdk/internal.js";
import { ConfigError } from "./errors.js";
import { DEFAULT_HISTORY_LIMITS } from "./store/index.js";

const LogLevelSchema = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

const RetryPolicySchema = z.object({
  maxAttempts: z.number().int().positive().or(z.literal(Number.POSITIVE_INFINITY)).optional(),
  initialIntervalMs: z.number().nonnegative().optional(),
  maxIntervalMs: z.number().nonnegative().optional(),
  backoffCoefficient: z.number().min(1).optional(),
  nonRetryableErrors: z.array(z.string()).optional(),
  onMaxAttempts: z.enum(["pause", "fail"]).optional(),
});

const DefinitionSchema = z.custom<AnyDefinition>(
  (value) =>
    typeof value === "object" &&
    value !== null &&
    ["object", "service", "workflow"].includes(String((value as { type?: unknown }).type)) &&
    typeof (value as { name?: unknown }).name === "string",
  { message: "must be made with object(), service() or workflow()" },
);

const HostOptionsSchema = z.object({
  /** The objects and services this host serves. */
  services: z.array(DefinitionSchema).min(1),
  /** Where LMDB keeps this host's state, completions and outbox. */
  dataDir: z.string().min(1),
  /**
   * The NATS servers, with credentials and TLS when the server requires them (`user`/`pass`,
   * `token`, `credsFile`, `nkeySeed`, `tls`). Its `inboxPrefix` defaults to `_INBOX_cairn_host`, not
   * the clients' `_INBOX`. Without it the host runs in embedded mode: no server, one process.
   */
  nats: HostNatsConnectionSchema.optional(),
  /**
   * Serve an HTTP ingress (API.md "HTTP ingress") on `port`; 0 picks a free port, which
   * `host.ingressUrl` then names. `host` is the interface it binds: @default "127.0.0.1" (loopback
   * only). Without this option there is no ingress.
   */
  ingress: z
    .object({
      port: z.number().int().min(0).max(65535),
      host: z.string().min(1).default("127.0.0.1"),
      /** Requests without `Authorization: Bearer <token>` are refused with 401. @default no token */
      token: z.string().min(1).optional(),
    })
    .strict()
    .optional(),
  /**
   * Serve the admin endpoint on `port` (0 picks a free one, which `host.adminUrl` then names):
   * `/health`, `/metrics` (Prometheus text) and the JSON API under `/api/…` that the `cairn` CLI
   * and the web console read. `host` is the interface it binds: @default "127.0.0.1" (loopback
   * only). With `token`, every route but `/health` requires `Authorization: Bearer <token>`.
   * Without this option there is no admin endpoint.
   */
  admin: z
    .object({
      port: z.number().int().min(0).max(65535),
      host: z.string().min(1).default("127.0.0.1"),
      token: z.string().min(1).optional(),
    })
    .strict()
    .optional(),
  /**
   * The inbox prefixes of the clients this host answers: a call whose reply subject is not
   * `<prefix>.<token>…` for one of them is refused and never answered, so that no message can make
   * the host publish into its own streams. @default ["_INBOX"]
   */
  clientInboxPrefixes: z.array(InboxPrefixSchema).min(1).default(["_INBOX"]),
  /** Partitions of the inbox; fixed when the stream is created. @default 32 */
  partitions: z.number().int().min(1).max(1024).default(32),
  /** Subject and stream namespace: subjects `<namespace>.in.<partition>`. @default "cairn" */
  namespace: z.string().regex(/^[A-Za-z0-9_-]+$/).default("cairn"),
  /**
   * What a NATS host does when its services and handlers differ from those its namespace records
   * (the namespace's first host writes the record). `"refuse"`: it does not start, and its
   * `ConfigError` names the difference. `"add"`, for a rolling upgrade: a host serving everything
   * the record holds plus new services or handlers starts and records the larger set. Removing a
   * service or handler, or changing its type or kind, is refused either way (see "Namespace
   * consistency" in docs/architecture.md). Not used in embedded mode. @default "refuse"
   */
  namespaceChange: z.enum(["refuse", "add"]).default("refuse"),
  /** Larger inputs are refused with a `TerminalError`. @default 1048576 (1 MiB) */
  maxPayloadBytes: z.number().int().positive().default(1024 * 1024),
  /** How long completions are remembered for idempotency and redelivery. @default 86400000 (24 h) */
  idempotencyRetentionMs: z.number().int().positive().default(24 * 60 * 60 * 1000),
  /**
   * How long each object key's state history (`cairn state history`: every commit that changed the
   * key, with its values before and after) is kept, by the committing host's clock. A day, as the
   * idempotency window: enough to see what changed a key since yesterday, and bounded, since every
   * entry holds copies of the values. Pruned by the host's sweep and whenever the key is written.
   * @default 86400000 (24 h)
   */
  historyRetentionMs: z.number().int().positive().default(DEFAULT_HISTORY_LIMITS.retentionMs),
  /**
   * Per-key state history (`cairn state history`, the console): at most this many newest entries
   * are kept per object key, whatever their age, so that a key written in a loop costs a bounded
   * amount. Off by default: each commit then writes its values again (before and after) and an age
   * index, which cost embedded mode about a third of its cart throughput (`npm run bench`); turn it
   * on where the insight is worth it (`cairn start` and `npm start` keep 100). 0 keeps none and skips
   * the work. @default 0
   */
  historyEntriesPerKey: z.number().int().nonnegative().default(0),
  /** Unacknowledged inbox messages in flight per partition; bounds memory. @default 1000 */
  maxInFlightPerPartition: z.number().int().positive().default(1000),
  /** JetStream redelivers a message not acked or touched within this. @default 30000 */
  ackWaitMs: z.number().int().min(1000).default(30_000),
  /**
   * A partition lease not renewed for this long is free for another host: how long a crashed
   * host's partitions wait before they move. Leases are renewed every third of it. @default 5000
   */
  leaseTtlMs: z.number().int().min(500).default(5000),
  /** JetStream replicas of the streams, lease bucket and snapshot store this host creates (3 on a 3-node cluster). @default 1 */
  replicas: z.number().int().min(1).max(5).default(1),
  /** Invocations committed on a partition between two snapshots of it; a restore replays at most this many from its changelog. @default 2000 */
  snapshotEvery: z.number().int().positive().default(2000),
  /** How long `close()` waits for in-flight invocations before leaving them to redelivery. @default 10000 */
  shutdownGraceMs: z.number().int().nonnegative().default(10_000),
  /**
   * Defaults for every handler; a handler's own `retryPolicy` overrides them field by field.
   * @default { maxAttempts: 30, initialIntervalMs: 100, maxIntervalMs: 10000, backoffCoefficient: 2, onMaxAttempts: "pause" }
   */
  retryPolicy: RetryPolicySchema.default({}),
  /**
   * An invocation whose attempts ended this many times with their host or partition lost while it
   * ran (a crash, a handler that fills the heap, an event loop blocked past the lease) is paused
   * instead of being run again: a poison invocation must not take down every host that takes its
   * partition. `resume` gives it another try. @default 3
   */
  maxLostAttempts: z.number().int().min(1).default(3),
  /**
   * For tests: after every suspension point commits (a step's result, a call, a sleep, an
   * awakeable), the handler is run again from the top against its journal, as after a crash
   * (Restate's `alwaysReplay`). Code that does not replay the same way fails loudly here, not in
   * production. @default false
   */
  alwaysReplay: z.boolean().default(false),
  /** A pino logger to log through. @default pino at `logLevel`, to stderr */
  logger: z.custom<Logger>((v) => typeof v === "object" && v !== null && typeof (v as Logger).child === "function").optional(),
  /** @default "info", or `CAIRN_LOG_LEVEL` */
  logLevel: LogLevelSchema.optional(),
}).strict();

/** Options of `startHost`. */
export type HostOptions = z.input<typeof HostOptionsSchema>;
export type HostConfig = z.output<typeof HostOptionsSchema> & { nats: NatsConnection | undefined; logger: Logger };

export function parseHostOptions(options: HostOptions): HostConfig {
  const parsed = HostOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ConfigError(`invalid startHost options:\n${z.prettifyError(parsed.error)}`);
  const config = parsed.data;
  const subjectRoot = config.namespace;
  if (config.clientInboxPrefixes.some((prefix) => prefix === subjectRoot || prefix.startsWith(`${subjectRoot}.`))) {
    throw new ConfigError(`startHost: clientInboxPrefixes may not lie under the namespace "${subjectRoot}": replies would land in Cairn's own subjects`);
  }
  const fromEnv = LogLevelSchema.safeParse(process.env.CAIRN_LOG_LEVEL ?? "info");
  if (!fromEnv.success) throw new ConfigError(`CAIRN_LOG_LEVEL must be one of ${LogLevelSchema.options.join(", ")}`);
  const level = config.logLevel ?? fromEnv.data;
  const logger = config.logger ?? pino({ level }, pino.destination(2));
  // The host's own client (host.client) must be answered too.
  const clientInboxPrefixes = [...new Set([...config.clientInboxPrefixes, ...(config.nats ? [config.nats.inboxPrefix] : [])])];
  return { ...config, nats: config.nats, clientInboxPrefixes, logger };
}
