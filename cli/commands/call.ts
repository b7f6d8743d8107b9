// `cairn call Type/key/handler [JSON]` and `cairn send …`: over a host's HTTP ingress, or over NATS.
import { Command, Option } from "commander";
import { z } from "zod";
import { connect } from "../../sdk/client/index.js";
import { type TargetInvoker, targetInvoker } from "../../sdk/internal.js";
import { DEFAULT_INGRESS_URL, ingressUrl, parseDuration, parseInput, parseTarget } from "../call-options.js";
import { UnreachableError, UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";
import { httpInvoker } from "../http-invoker.js";
import { natsFromEnv } from "../nats-auth.js";

const CallFlagsSchema = z.object({
  url: z.string().optional(),
  nats: z.string().optional(),
  idempotencyKey: z.string().optional(),
  timeout: z.string().optional(),
  delay: z.string().optional(),
});
type CallFlags = z.infer<typeof CallFlagsSchema>;

/** How long `call` waits for a result by default, as the client does. */
const DEFAULT_CALL_TIMEOUT_MS = 30_000;

function invocationCommand(name: "call" | "send"): Command {
  const command = new Command(name)
    .argument("<target>", "Type/key/handler (an object or workflow) or Type/handler (a service)")
    .argument("[json]", "the input, as JSON (quote it for the shell)")
    .addOption(new Option("--url <url>", `the host's HTTP ingress (default: ${DEFAULT_INGRESS_URL})`).env("CAIRN_INGRESS_URL"))
    .addOption(new Option("--nats <url>", "go through NATS instead (credentials from CAIRN_NATS_USER/… or .cairn/nats-auth.json)").env("CAIRN_NATS_URL"))
    .option("--idempotency-key <key>", "invocations with the same key (per target) run once; every retry gets the first result");
  return name === "call"
    ? command
        .description("call a handler and print its JSON result")
        .option("--timeout <duration>", "how long to wait for the result: 500ms, 10s, 5m (default: 30s)")
    : command
        .description("send to a handler one-way; prints the invocation id once the host durably accepted it")
        .option("--delay <duration>", "deliver it this much later (a durable timer): 500ms, 10s, 5m, 2h, 1d; a bare number is ms");
}

export function callCommand(): Command {
  return invocationCommand("call").action((address: string, json: string | undefined, options: unknown, command: Command) =>
    invoke(address, json, callFlags(options, command), async (invoker, target, input, flags) => {
      const timeoutMs = flags.timeout === undefined ? DEFAULT_CALL_TIMEOUT_MS : parseDuration(flags.timeout, "--timeout");
      return invoker.call(target, input, { idempotencyKey: flags.idempotencyKey, timeoutMs });
    }),
  );
}

export function sendCommand(): Command {
  return invocationCommand("send").action((address: string, json: string | undefined, options: unknown, command: Command) =>
    invoke(address, json, callFlags(options, command), async (invoker, target, input, flags) => {
      const delayMs = flags.delay === undefined ? 0 : parseDuration(flags.delay, "--delay");
      return invoker.send(target, input, { idempotencyKey: flags.idempotencyKey, ...(delayMs > 0 ? { delayMs } : {}) });
    }),
  );
}

/** The flags, where a `--url` given on the command line wins over a CAIRN_NATS_URL from the environment. */
function callFlags(options: unknown, command: Command): CallFlags {
  const flags = parseFlags(CallFlagsSchema, options);
  if (flags.url !== undefined && command.getOptionValueSource("nats") === "env") return { ...flags, nats: undefined };
  return flags;
}

async function invoke(
  address: string,
  json: string | undefined,
  flags: CallFlags,
  run: (invoker: TargetInvoker, target: ReturnType<typeof parseTarget>, input: unknown, flags: CallFlags) => Promise<unknown>,
): Promise<void> {
  const target = parseTarget(address);
  const input = parseInput(json);
  const { invoker, close } = await open(flags);
  try {
    console.log(JSON.stringify(await run(invoker, target, input, flags), null, 2) ?? "null");
  } finally {
    await close();
  }
}

async function open(flags: CallFlags): Promise<{ invoker: TargetInvoker; close(): Promise<void> }> {
  if (flags.url !== undefined && flags.nats !== undefined) throw new UsageError("--url and --nats name two ways to reach the host: give one");
  if (flags.nats === undefined) return { invoker: httpInvoker(ingressUrl(flags.url ?? DEFAULT_INGRESS_URL)), close: async () => undefined };
  const url = flags.nats;
  // As the client user: what a caller may do under nats-auth.conf, and no more.
  const options = natsFromEnv("client", { ...process.env, CAIRN_NATS_URL: url });
  const client = await connect({ ...options, timeoutMs: DEFAULT_CALL_TIMEOUT_MS }).catch((error: unknown) => {
    throw new UnreachableError(
      `cannot connect to NATS at ${url} as ${options.user ?? "an anonymous user"} (${error instanceof Error ? error.message : String(error)}). Is \`cairn start --nats …\` running? CAIRN_NATS_USER/CAIRN_NATS_PASSWORD give credentials for another server.`,
    );
  });
  return { invoker: targetInvoker(client), close: () => client.close() };
}
