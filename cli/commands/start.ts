// `cairn start MODULE…`: a host serving every object, service and workflow the modules export.
import { Command, Option } from "commander";
import { join } from "node:path";
import { z } from "zod";
import { DEFAULT_ADMIN_PORT, DEFAULT_ADMIN_URL } from "../admin-target.js";
import { UsageError } from "../errors.js";
import { count, parseFlags } from "../flags.js";
import { loadDefinitions } from "../modules.js";
import { DEFAULT_NATS_URL, stateDir } from "../nats-auth.js";
import { type NatsChoice, serve } from "../serve.js";

const StartFlagsSchema = z.object({
  nats: z.string().optional(),
  data: z.string().min(1).optional(),
  http: z.union([z.literal(false), count(0).pipe(z.number().max(65_535))]).default(8080),
  admin: z.union([z.literal(false), count(0).pipe(z.number().max(65_535))]).default(DEFAULT_ADMIN_PORT),
  adminToken: z.string().min(1).optional(),
  ingressToken: z.string().min(1).optional(),
  partitions: count(1).pipe(z.number().max(1024)).optional(),
  history: count(0).default(100),
});

export function startCommand(): Command {
  return new Command("start")
    .description("run a host serving every object, service and workflow the modules export (embedded by default)")
    .argument("<module...>", "files whose exports hold the definitions (.js, or .ts with tsx installed)")
    .addOption(new Option("--nats <url>", 'serve on the NATS server at URL; "local" starts nats-server from nats.conf on 127.0.0.1:4222 when none answers').env("CAIRN_NATS_URL"))
    .addOption(new Option("--data <dir>", "the host's data dir (default: .cairn/host-1)").env("CAIRN_DATA_DIR"))
    .addOption(new Option("--http <port>", "the HTTP ingress port on 127.0.0.1 (0 picks a free one)").env("CAIRN_HTTP_PORT").default("8080"))
    .option("--no-http", "no HTTP ingress")
    .addOption(new Option("--ingress-token <token>", "require this bearer token on the ingress (cairn call sends CAIRN_INGRESS_TOKEN)").env("CAIRN_INGRESS_TOKEN"))
    .addOption(new Option("--admin <port>", "the admin endpoint's port on 127.0.0.1, read by the other commands (0 picks a free one)").env("CAIRN_ADMIN_PORT").default(String(DEFAULT_ADMIN_PORT)))
    .option("--no-admin", "no admin endpoint")
    .addOption(new Option("--admin-token <token>", "require this bearer token on the admin endpoint").env("CAIRN_ADMIN_TOKEN"))
    .option("--partitions <n>", "the partition count, fixed when the data dir or namespace is created (default: 32)")
    .option("--history <n>", "state history entries kept per key, for `cairn state history` and the console (0: none; it costs commit throughput)", "100")
    .action(async (modules: string[], options: unknown) => {
      const flags = parseFlags(StartFlagsSchema, options);
      const services = await loadDefinitions(modules);
      const dataDir = flags.data ?? join(stateDir(), "host-1");
      await serve(
        { services, nats: natsChoice(flags.nats), dataDir, httpPort: flags.http === false ? undefined : flags.http, ingressToken: flags.ingressToken, admin: flags.admin === false ? undefined : { port: flags.admin, token: flags.adminToken }, partitions: flags.partitions, historyEntriesPerKey: flags.history },
        (host, server) =>
          [
            `Cairn host ${host.hostId} running ${server ? `on NATS at ${server.url}` : "embedded (no server)"}: ${services.map((s) => s.name).join(", ")} (data: ${dataDir}).`,
            host.ingressUrl ? `HTTP ingress on ${host.ingressUrl}.` : "No HTTP ingress.",
            host.adminUrl ? `Admin endpoint on ${host.adminUrl}${host.adminUrl === DEFAULT_ADMIN_URL ? "" : ` (cairn … --admin ${host.adminUrl})`}.` : "No admin endpoint.",
            `Ctrl-C stops the host${server?.pid ? " and the nats-server it started" : ""}.`,
          ].join("\n"),
      );
    });
}

function natsChoice(given: string | undefined): NatsChoice {
  if (given === undefined) return { type: "embedded" };
  if (given === "local") return { type: "local", url: DEFAULT_NATS_URL };
  if (given.trim() === "" || given.startsWith("-")) throw new UsageError(`--nats takes a server URL such as nats://127.0.0.1:4222, or "local" (got "${given}")`);
  return { type: "server", url: given };
}
