// Which host or namespace a read or control command asks: `--admin URL` (a host's admin endpoint),
// or `--nats URL` with `--namespace` (every host of a namespace), and the bearer token. The readers
// are the runtime's (runtime/admin/reader.ts, runtime/transport/nats/admin-reader.ts); this file
// only picks one and turns its failures into the CLI's exit codes.
import { type Command, Option } from "commander";
import { ErrorCode, NatsError } from "nats";
import { z } from "zod";
import { type AdminReader, AdminRequestError, HttpAdminReader, type InvocationControl } from "../runtime/admin/index.js";
import { NatsAdminReader } from "../runtime/transport/nats/index.js";
import { TerminalError } from "../sdk/index.js";
import { type CairnClient, connect } from "../sdk/client/index.js";
import { NotFoundError, ScriptError, UnreachableError, UsageError } from "./errors.js";
import { parseFlags } from "./flags.js";
import { natsFromEnv } from "./nats-auth.js";

/** Where `cairn` looks for an admin endpoint when told nothing: the default of `cairn start --admin`. */
export const DEFAULT_ADMIN_PORT = 9070;
export const DEFAULT_ADMIN_URL = `http://127.0.0.1:${DEFAULT_ADMIN_PORT}`;
export const DEFAULT_NAMESPACE = "cairn";

const AdminFlagsSchema = z.object({
  admin: z.string().optional(),
  nats: z.string().optional(),
  namespace: z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only"),
  token: z.string().optional(),
  json: z.boolean().default(false),
});
export type AdminFlags = z.infer<typeof AdminFlagsSchema>;

/** What a command reads from, and how to steer invocations there. */
export interface AdminTarget {
  reader: AdminReader;
  control: InvocationControl;
  /** The endpoint or namespace, for messages. */
  where: string;
  kind: "http" | "nats";
  /** Closes the reader and whatever the control opened. */
  close(): Promise<void>;
}

/** Adds the target options (and `--json`) to a read or control command. */
export function withAdminTarget(command: Command): Command {
  return command
    .addOption(new Option("--admin <url>", `the host's admin endpoint (default: ${DEFAULT_ADMIN_URL})`).env("CAIRN_ADMIN_URL"))
    .addOption(new Option("--nats <url>", "ask every host of a NATS namespace instead (as the hosts' user: CAIRN_NATS_USER/… or .cairn/nats-auth.json)"))
    .addOption(new Option("--namespace <name>", "the namespace, with --nats").default(DEFAULT_NAMESPACE))
    .addOption(new Option("--token <token>", "the admin endpoint's bearer token").env("CAIRN_ADMIN_TOKEN"))
    .option("--json", "print JSON (whole values) instead of a table");
}

export function adminFlags(options: unknown, command: Command): AdminFlags {
  const flags = parseFlags(AdminFlagsSchema, options);
  // A --nats on the command line wins over a CAIRN_ADMIN_URL from the environment.
  if (flags.nats !== undefined && command.getOptionValueSource("admin") === "env") return { ...flags, admin: undefined };
  return flags;
}

/** The reader the flags name; the caller closes it. */
export async function openAdminTarget(flags: AdminFlags): Promise<AdminTarget> {
  if (flags.nats !== undefined && flags.admin !== undefined) throw new UsageError("--admin and --nats name two places to ask: give one");
  if (flags.nats !== undefined) {
    const url = flags.nats;
    const where = `namespace "${flags.namespace}" at ${url}`;
    // The admin subjects are the hosts' (nats-auth.conf): a caller's user may not ask them.
    const nats = natsFromEnv("host", { ...process.env, CAIRN_NATS_URL: url });
    const reader = await NatsAdminReader.connect({ nats, namespace: flags.namespace }).catch((error: unknown) => {
      throw adminError(error, { where, kind: "nats" });
    });
    // Control commands go to the hosts as a client's cancel/kill/resume do, with the hosts' user.
    let client: Promise<CairnClient> | undefined;
    const opened = () => (client ??= connect({ ...nats, namespace: flags.namespace }));
    const control: InvocationControl = {
      cancel: async (id) => (await opened()).cancel(id),
      kill: async (id) => (await opened()).kill(id),
      resume: async (id) => (await opened()).resume(id),
    };
    const close = async () => {
      await reader.close();
      await (await client?.catch(() => undefined))?.close();
    };
    return { reader, control, where, kind: "nats", close };
  }
  const url = flags.admin ?? DEFAULT_ADMIN_URL;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new UsageError(`--admin must be an http:// or https:// URL (got "${url}")`);
  const reader = new HttpAdminReader(url, { token: flags.token });
  return { reader, control: reader, where: `the admin endpoint at ${url.replace(/\/+$/, "")}`, kind: "http", close: () => reader.close() };
}

/** JetStream's API error code for "stream not found": a namespace whose hosts never started. */
const JS_STREAM_NOT_FOUND = 10059;

/** A reader's failure as the CLI reports it: one line, and the error class that carries the exit code. */
export function adminError(error: unknown, target: Pick<AdminTarget, "where" | "kind">): Error {
  const { where } = target;
  const cause = rootCause(error);
  if (cause instanceof NatsError && (cause.code === ErrorCode.PermissionsViolation || cause.code === ErrorCode.AuthorizationViolation)) {
    return new ScriptError(`${where} refuses these credentials (${cause.message}): reading a namespace takes the hosts' user (CAIRN_NATS_USER/CAIRN_NATS_PASSWORD)`);
  }
  const hint =
    target.kind === "http"
      ? "Is a host running with an admin endpoint (`cairn start --admin PORT`)? Point at it with --admin URL, or at a namespace with --nats URL."
      : "Is a host of this namespace running? --namespace names another one.";
  if (error instanceof AdminRequestError) {
    switch (error.status) {
      case 0:
        return new UnreachableError(`cannot reach ${where} (${messageOf(cause)}). ${hint}`);
      case 401:
        return new ScriptError(`${where} wants a bearer token (401): give --token T or set CAIRN_ADMIN_TOKEN`);
      case 404:
        return new NotFoundError(error.message);
      default:
        return new ScriptError(error.message);
    }
  }
  // A control command's refusal from the hosts (a client's cancel/kill/resume over NATS).
  if (error instanceof TerminalError) return error.errorCode === 404 ? new NotFoundError(error.message) : new ScriptError(error.message);
  if (cause instanceof NatsError && (cause.code === ErrorCode.ConnectionRefused || cause.code === ErrorCode.Timeout)) {
    return new UnreachableError(`cannot reach ${where} (${cause.message}). ${hint}`);
  }
  if (cause instanceof NatsError && cause.jsError()?.err_code === JS_STREAM_NOT_FOUND) {
    return new UnreachableError(`cannot reach ${where}: it has no lease bucket (${cause.message}). ${hint}`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** The innermost cause: fetch's "fetch failed" hides the "connect ECONNREFUSED …" that says why. */
function rootCause(error: unknown): unknown {
  let at = error;
  while (at instanceof Error && at.cause instanceof Error) at = at.cause;
  return at;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
