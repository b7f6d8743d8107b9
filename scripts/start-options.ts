// `npm start`'s command line and environment, parsed once.
import { parseArgs } from "node:util";
import { join } from "node:path";
import { z } from "zod";
import { UsageError } from "../cli/errors.js";
import { DEFAULT_NATS_URL, stateDir } from "../cli/nats-auth.js";
import type { NatsChoice } from "../cli/serve.js";

export const START_USAGE = `usage: npm start [-- [--nats URL|local] [--port N] [--data DIR]]

  (no --nats)     an embedded host: no server at all, state under --data
  --nats URL      a host on the NATS server at URL (CAIRN_NATS_URL); it must answer
  --nats local    a host on 127.0.0.1:4222 (or CAIRN_NATS_URL), starting nats-server from nats.conf
                  when none answers, and stopping it on exit
  --port N        the HTTP ingress port on 127.0.0.1 (CAIRN_HTTP_PORT, default 8080; 0 picks a free one)
  --data DIR      the host's data dir (CAIRN_DATA_DIR, default <CAIRN_STATE_DIR or .cairn>/host-1)`;


export interface StartOptions {
  nats: NatsChoice;
  /** 0 picks a free port. */
  httpPort: number;
  dataDir: string;
  help: boolean;
}

const PortSchema = z.coerce.number().int().min(0).max(65_535);

export function parseStartOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): StartOptions {
  let values: { nats?: string; port?: string; data?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { nats: { type: "string" }, port: { type: "string" }, data: { type: "string" }, help: { type: "boolean", short: "h" } },
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const portText = values.port ?? env.CAIRN_HTTP_PORT ?? "8080";
  const port = PortSchema.safeParse(portText);
  if (!port.success || portText.trim() === "") throw new UsageError(`--port (or CAIRN_HTTP_PORT) must be a port number from 0 to 65535 (got "${portText}")`);
  return {
    nats: natsChoice(values.nats, env),
    httpPort: port.data,
    dataDir: values.data ?? env.CAIRN_DATA_DIR ?? join(stateDir(env), "host-1"),
    help: values.help ?? false,
  };
}

function natsChoice(flag: string | undefined, env: NodeJS.ProcessEnv): NatsChoice {
  const given = flag ?? env.CAIRN_NATS_URL;
  if (given === undefined) return { type: "embedded" };
  if (given === "local") {
    const url = env.CAIRN_NATS_URL === undefined || env.CAIRN_NATS_URL === "local" ? DEFAULT_NATS_URL : env.CAIRN_NATS_URL;
    return { type: "local", url };
  }
  if (given.trim() === "" || given.startsWith("-")) {
    throw new UsageError(`--nats takes a server URL such as nats://127.0.0.1:4222, or "local" (got "${given}")`);
  }
  return { type: "server", url: given };
}
