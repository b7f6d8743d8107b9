// `npm run call -- Type/key/handler [JSON]` (objects) or `Type/handler [JSON]` (services).
import { object, service } from "cairn";
import { connect } from "cairn/client";
import { natsFromEnv } from "./nats-auth.js";

const [address, json] = process.argv.slice(2);
const parts = address?.split("/") ?? [];
if (parts.length < 2 || parts.length > 3 || parts.some((p) => p.length === 0)) {
  console.error("usage: npm run call -- Type/key/handler [JSON]   (or Type/handler [JSON] for a service)");
  process.exit(2);
}
let input: unknown;
try {
  input = json === undefined ? undefined : JSON.parse(json);
} catch (error) {
  console.error(`the input is not JSON: ${(error as Error).message}`);
  process.exit(2);
}
// The client needs only names; the host holds the real definitions and validates the input.
const noop = async () => undefined;
// As the client user: what a caller may do under nats-auth.conf, and no more.
const options = natsFromEnv("client");
const client = await connect({ ...options, timeoutMs: 10_000 }).catch((error: unknown) => {
  console.error(`cannot connect to NATS at ${String(options.servers)} as ${options.user ?? "an anonymous user"}: ${error instanceof Error ? error.message : String(error)}`);
  console.error("Is `npm start` running? Set CAIRN_NATS_URL, and CAIRN_NATS_USER/CAIRN_NATS_PASSWORD for another server.");
  process.exit(1);
});
try {
  let result: unknown;
  if (parts.length === 3) {
    const [name = "", key = "", handler = ""] = parts;
    const def = object({ name, handlers: { [handler]: noop } });
    result = await client.objectClient(def, key)[handler]?.(input as never);
  } else {
    const [name = "", handler = ""] = parts;
    const def = service({ name, handlers: { [handler]: noop } });
    result = await client.serviceClient(def)[handler]?.(input as never);
  }
  console.log(JSON.stringify(result, null, 2));
} catch (error) {
  console.error(`${(error as Error).name}: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await client.close();
}
