// Which host or namespace a read or control command asks: `--admin URL` (an embedded host's admin
// endpoint), or `--nats URL` with `--namespace` (every host of a namespace), and the bearer token.
import { type Command, Option } from "commander";
import { z } from "zod";
import { type AdminReader, httpAdminReader } from "./admin-http.js";
import { UsageError } from "./errors.js";
import { parseFlags } from "./flags.js";

/** Where `cairn` looks for an admin endpoint when told nothing: the default of `cairn start --admin`. */
export const DEFAULT_ADMIN_URL = "http://127.0.0.1:9070";
export const DEFAULT_NAMESPACE = "cairn";

const AdminFlagsSchema = z.object({
  admin: z.string().optional(),
  nats: z.string().optional(),
  namespace: z.string().min(1),
  token: z.string().optional(),
  json: z.boolean().default(false),
});
export type AdminFlags = z.infer<typeof AdminFlagsSchema>;

/** Adds the target options (and `--json`) to a read or control command. */
export function withAdminTarget(command: Command): Command {
  return command
    .addOption(new Option("--admin <url>", `the host's admin endpoint (default: ${DEFAULT_ADMIN_URL})`).env("CAIRN_ADMIN_URL"))
    .addOption(new Option("--nats <url>", "ask every host of a NATS namespace instead (credentials as for `cairn start --nats`)"))
    .addOption(new Option("--namespace <name>", "the namespace, with --nats").default(DEFAULT_NAMESPACE))
    .addOption(new Option("--token <token>", "the admin endpoint's bearer token").env("CAIRN_ADMIN_TOKEN"))
    .option("--json", "print JSON (whole values) instead of a table");
}

export function adminFlags(options: unknown): AdminFlags {
  return parseFlags(AdminFlagsSchema, options);
}

/** The reader the flags name; the caller closes it. */
export async function openAdminReader(flags: AdminFlags): Promise<AdminReader> {
  if (flags.nats !== undefined && flags.admin !== undefined) throw new UsageError("--admin and --nats name two places to ask: give one");
  if (flags.nats !== undefined) {
    throw new UsageError(`--nats: reading a namespace over NATS needs the admin subjects, which this build does not have yet; use --admin URL`);
  }
  const url = flags.admin ?? DEFAULT_ADMIN_URL;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new UsageError(`--admin must be an http:// or https:// URL (got "${url}")`);
  return httpAdminReader(url.replace(/\/+$/, ""), flags.token);
}
