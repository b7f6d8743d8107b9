// Credentials for the users of nats-auth.conf, for the scripts: from the environment, or from the
// file `npm start` writes when it starts its own nats-server.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { NatsConnectionOptions } from "../sdk/client/index.js";

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/**
 * Where the scripts keep what they make on this machine (the host's data dir, the local
 * nats-server's store, log and passwords): `CAIRN_STATE_DIR`, default `.cairn`.
 */
export function stateDir(env = process.env): string {
  return env.CAIRN_STATE_DIR ?? ".cairn";
}

function localAuthFile(env = process.env): string {
  return join(stateDir(env), "nats-auth.json");
}

/** The passwords of the `cairn-host` and `cairn-client` users of nats-auth.conf. */
export interface LocalAuth {
  hostPassword: string;
  clientPassword: string;
}

/**
 * A random password that nats-server reads back as a string: it parses an environment variable's
 * value as a config value, so one starting with a digit would be taken for a number and refused.
 */
export function newPassword(): string {
  return `p${randomBytes(16).toString("hex")}`;
}

/** Reads the local server's passwords, making them (readable by this user only) the first time. */
export function localAuth(file = localAuthFile()): LocalAuth {
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as LocalAuth;
  const auth = { hostPassword: newPassword(), clientPassword: newPassword() };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(auth, null, 2)}\n`, { mode: 0o600 });
  return auth;
}

/** What nats-server needs in its environment to read nats-auth.conf. */
export function authEnv(auth: LocalAuth): Record<string, string> {
  return { CAIRN_HOST_PASSWORD: auth.hostPassword, CAIRN_CLIENT_PASSWORD: auth.clientPassword };
}

/**
 * How a script connects, as `role`: `CAIRN_NATS_URL` (comma-separated), and credentials from
 * `CAIRN_NATS_USER`/`CAIRN_NATS_PASSWORD`, `CAIRN_NATS_TOKEN`, `CAIRN_NATS_CREDS` (a .creds file) or
 * `CAIRN_NATS_NKEY_SEED`, TLS files from `CAIRN_NATS_TLS_CA`/`_CERT`/`_KEY`; without credentials in
 * the environment, those `npm start` made for its local server, when there are any.
 */
export function natsFromEnv(role: "host" | "client", env = process.env): NatsConnectionOptions {
  const options: NatsConnectionOptions = { servers: (env.CAIRN_NATS_URL ?? DEFAULT_NATS_URL).split(",") };
  if (env.CAIRN_NATS_USER) Object.assign(options, { user: env.CAIRN_NATS_USER, pass: env.CAIRN_NATS_PASSWORD ?? "" });
  else if (env.CAIRN_NATS_TOKEN) options.token = env.CAIRN_NATS_TOKEN;
  else if (env.CAIRN_NATS_CREDS) options.credsFile = env.CAIRN_NATS_CREDS;
  else if (env.CAIRN_NATS_NKEY_SEED) options.nkeySeed = env.CAIRN_NATS_NKEY_SEED;
  else if (existsSync(localAuthFile(env))) {
    const auth = localAuth(localAuthFile(env));
    Object.assign(options, role === "host" ? { user: "cairn-host", pass: auth.hostPassword } : { user: "cairn-client", pass: auth.clientPassword });
  }
  if (env.CAIRN_NATS_TLS_CA || env.CAIRN_NATS_TLS_CERT || env.CAIRN_NATS_TLS_KEY) {
    options.tls = { caFile: env.CAIRN_NATS_TLS_CA, certFile: env.CAIRN_NATS_TLS_CERT, keyFile: env.CAIRN_NATS_TLS_KEY };
  }
  if (env.CAIRN_NATS_INBOX_PREFIX) options.inboxPrefix = env.CAIRN_NATS_INBOX_PREFIX;
  return options;
}
