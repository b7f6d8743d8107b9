// `npm run call -- Type/key/handler [JSON]` (objects) or `Type/handler [JSON]` (services): over the
// host's HTTP ingress by default, over NATS with --nats. Prints the JSON result; an error as one line.
import { connect } from "cairn/client";
import { type TargetInvoker, targetInvoker } from "../sdk/internal.js";
import { exitOnError } from "./cli.js";
import { CALL_USAGE, type CallRequest, parseCallArgs } from "./call-options.js";
import { httpInvoker } from "./http-invoker.js";
import { ScriptError } from "./local-nats.js";
import { natsFromEnv } from "./nats-auth.js";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(CALL_USAGE);
  process.exit(0);
}
let request: CallRequest;
try {
  request = parseCallArgs(process.argv.slice(2));
} catch (error) {
  exitOnError(error, CALL_USAGE);
}

const { invoker, close } = await open(request).catch((error: unknown) => exitOnError(error));
try {
  const { target, input, idempotencyKey, send } = request;
  const result = send
    ? await invoker.send(target, input, { idempotencyKey, ...(send.delayMs > 0 ? { delayMs: send.delayMs } : {}) })
    : await invoker.call(target, input, { idempotencyKey });
  console.log(JSON.stringify(result, null, 2) ?? "null");
} catch (error) {
  await close();
  exitOnError(error);
}
await close();

async function open(request: CallRequest): Promise<{ invoker: TargetInvoker; close(): Promise<void> }> {
  const transport = request.transport;
  switch (transport.type) {
    case "http":
      return { invoker: httpInvoker(transport.url), close: async () => undefined };
    case "nats": {
      // As the client user: what a caller may do under nats-auth.conf, and no more.
      const options = natsFromEnv("client", { ...process.env, CAIRN_NATS_URL: transport.url });
      const client = await connect({ ...options, timeoutMs: 10_000 }).catch((error: unknown) => {
        throw new ScriptError(
          `cannot connect to NATS at ${transport.url} as ${options.user ?? "an anonymous user"} (${error instanceof Error ? error.message : String(error)}). Is \`npm start -- --nats …\` running? CAIRN_NATS_USER/CAIRN_NATS_PASSWORD give credentials for another server.`,
        );
      });
      return { invoker: targetInvoker(client), close: () => client.close() };
    }
    default: {
      const unknownTransport: never = transport;
      throw new Error(`unknown transport ${JSON.stringify(unknownTransport)}`);
    }
  }
}
