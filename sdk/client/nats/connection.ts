import { readFileSync } from "node:fs";
import { type ConnectionOptions, credsAuthenticator, nkeyAuthenticator } from "nats";
import { z } from "zod";

/** An inbox prefix: NATS tokens separated by dots, no wildcards or white space. */
export const InboxPrefixSchema = z.string().regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, "must be a subject prefix such as _INBOX or _INBOX_app");

/**
 * How hosts and clients reach NATS: the servers and, for a server that requires them, the
 * credentials and TLS settings. Passed through to the `nats` client as they are.
 */
export const natsConnectionFields = {
    /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
    servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** User name, for a server with `authorization { users }`; requires `pass`. */
    user: z.string().min(1).optional(),
    /** The user's password. */
    pass: z.string().optional(),
    /** A token, for a server with `authorization { token }`. */
    token: z.string().min(1).optional(),
    /** Path of a `.creds` file (a user JWT and its nkey seed), for a server in operator mode. */
    credsFile: z.string().min(1).optional(),
    /** An nkey seed (`SU…`), for a server whose users are nkeys. */
    nkeySeed: z.string().min(1).optional(),
    /** TLS: `true` requires TLS with the system's CAs; the files add a CA and a client certificate. */
    tls: z
      .union([z.literal(true), z.object({ caFile: z.string().min(1).optional(), certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() }).strict()])
      .optional(),
    /**
     * Where this connection receives replies: its reply subjects are `<inboxPrefix>.…`. A server that
     * confines each application to its own prefix needs it; hosts answer only prefixes they accept
     * (`clientInboxPrefixes` of `startHost`). @default "_INBOX"
     */
    inboxPrefix: InboxPrefixSchema.default("_INBOX"),
};

type Credentials = { user?: string; pass?: string; token?: string; credsFile?: string; nkeySeed?: string };

/** One way to authenticate at most, and a user with its password. */
export function checkCredentials(options: Credentials, ctx: z.RefinementCtx): void {
  const ways = (["user", "token", "credsFile", "nkeySeed"] as const).filter((k) => options[k] !== undefined);
  if (ways.length > 1) ctx.addIssue({ code: "custom", message: `give one way to authenticate, not ${ways.join(" and ")}` });
  if (options.user !== undefined && options.pass === undefined) ctx.addIssue({ code: "custom", path: ["pass"], message: "user needs pass" });
  if (options.pass !== undefined && options.user === undefined) ctx.addIssue({ code: "custom", path: ["user"], message: "pass needs user" });
}

export const NatsConnectionSchema = z.object(natsConnectionFields).strict().superRefine(checkCredentials);

/**
 * A host's own inbox prefix: not the clients' one, so that a server can give clients their replies
 * (`_INBOX.>`) without also giving them the hosts' JetStream answers, which hold state.
 */
export const HOST_INBOX_PREFIX = "_INBOX_cairn_host";

/** A host's connection: as a client's, with its own inbox prefix by default. */
export const HostNatsConnectionSchema = z
  .object({ ...natsConnectionFields, inboxPrefix: natsConnectionFields.inboxPrefix.unwrap().default(HOST_INBOX_PREFIX) })
  .strict()
  .superRefine(checkCredentials);

export type NatsConnectionOptions = z.input<typeof NatsConnectionSchema>;
export type NatsConnection = z.output<typeof NatsConnectionSchema>;

/** The `nats` client's options for a parsed connection; reads the creds file now, so a wrong path fails at start. */
export function natsClientOptions(options: NatsConnection, name: string): ConnectionOptions {
  const encoder = new TextEncoder();
  const out: ConnectionOptions = { servers: options.servers, name, maxReconnectAttempts: -1, inboxPrefix: options.inboxPrefix };
  if (options.user !== undefined) Object.assign(out, { user: options.user, pass: options.pass });
  if (options.token !== undefined) out.token = options.token;
  if (options.credsFile !== undefined) out.authenticator = credsAuthenticator(readFileSync(options.credsFile));
  if (options.nkeySeed !== undefined) out.authenticator = nkeyAuthenticator(encoder.encode(options.nkeySeed));
  if (options.tls !== undefined) out.tls = options.tls === true ? {} : options.tls;
  return out;
}
