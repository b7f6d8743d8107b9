// `npm start`: a host serving the examples, embedded by default (`--nats` for NATS), with the HTTP
// ingress on 127.0.0.1:8080. It stops, and stops any nats-server it started, on Ctrl-C, SIGTERM,
// SIGHUP (a closed terminal) and when the npm process that ran it is gone.
import { type Host, startHost } from "cairn/runtime";
import { counter, mirror } from "../examples/counter.js";
import { orderService, shoppingCart } from "../examples/shopping-cart.js";
import { exitOnError } from "./cli.js";
import { type LocalNats, ensureLocalNats, existingNats } from "./local-nats.js";
import { natsFromEnv } from "./nats-auth.js";
import { START_USAGE, type StartOptions, parseStartOptions } from "./start-options.js";
import { scriptLogger } from "./script-logger.js";

// A closed terminal makes writes fail with EIO/EPIPE; that must not kill the process mid-shutdown.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);

let options: StartOptions;
try {
  options = parseStartOptions(process.argv.slice(2));
} catch (error) {
  exitOnError(error, START_USAGE);
}
if (options.help) {
  console.log(START_USAGE);
  process.exit(0);
}

let nats: LocalNats | undefined;
let host: Host | undefined;
// Whatever ends this process, a nats-server it started goes with it.
process.once("exit", () => nats?.kill());
const started = start(options);
// A signal during start-up waits for the start to settle, then closes whatever it opened.
watchForStop(async () => {
  await started.catch(() => undefined);
  await host?.close();
  await nats?.stop();
});
await started.catch(async (error: unknown) => {
  await Promise.resolve(host?.close()).catch(() => undefined);
  await nats?.stop();
  exitOnError(error);
});

async function start(options: StartOptions): Promise<void> {
  nats = await connectNats(options);
  const logger = scriptLogger();
  const services = [shoppingCart, orderService, counter, mirror];
  // CAIRN_INGRESS_TOKEN: the ingress then requires `Authorization: Bearer <token>`.
  const token = process.env.CAIRN_INGRESS_TOKEN;
  const ingress = { port: options.httpPort, ...(token ? { token } : {}) };
  const hostOptions = nats
    ? { services, dataDir: options.dataDir, logger, ingress, nats: { ...natsFromEnv("host", { ...process.env, CAIRN_NATS_URL: nats.url }), servers: nats.url } }
    : { services, dataDir: options.dataDir, logger, ingress };
  host = await startHost(hostOptions);
  printHowToCall(host, options, nats);
}

async function connectNats(options: StartOptions): Promise<LocalNats | undefined> {
  const choice = options.nats;
  switch (choice.type) {
    case "embedded":
      return undefined;
    case "server":
      return existingNats(choice.url);
    case "local":
      return ensureLocalNats(choice.url);
    default: {
      const unknownChoice: never = choice;
      throw new Error(`unknown NATS choice ${JSON.stringify(unknownChoice)}`);
    }
  }
}

function printHowToCall(running: Host, options: StartOptions, server: LocalNats | undefined): void {
  const ingressUrl = running.ingressUrl;
  const where = server ? `on NATS at ${server.url}` : "embedded (no server)";
  const lines = ingressUrl
    ? [
        `curl -X POST ${ingressUrl}/ShoppingCart/user-1/addItem -H 'content-type: application/json' -d '{"sku":"apple","qty":2,"priceCents":120}'`,
        `curl -X POST ${ingressUrl}/ShoppingCart/user-1/getItems`,
        `npm run call -- ShoppingCart/user-1/checkout${ingressUrl === "http://127.0.0.1:8080" ? "" : ` --url ${ingressUrl}`}`,
      ]
    : [
        `npm run call -- --nats ${server?.url} ShoppingCart/user-1/addItem '{"sku":"apple","qty":2,"priceCents":120}'`,
        `npm run call -- --nats ${server?.url} ShoppingCart/user-1/getItems`,
        `npm run call -- --nats ${server?.url} ShoppingCart/user-1/checkout`,
      ];
  console.log(`
Cairn host running ${where}: ShoppingCart, OrderService, Counter, Mirror (data: ${options.dataDir}).
${ingressUrl ? `HTTP ingress on ${ingressUrl}. ` : ""}In another terminal, call it:

${lines.map((line) => `    ${line}`).join("\n")}

Ctrl-C stops the host${server?.pid ? " and the nats-server it started" : ""}.
`);
}

/** How long stopping may take before the process exits anyway (the host drains for up to 10 s). */
const STOP_DEADLINE_MS = 20_000;

/**
 * Calls `stop` once on SIGINT, SIGTERM, SIGHUP, or when this process's parent (npm, which does not
 * pass SIGHUP on) is gone. A Ctrl-C pressed again exits at once; a signal within a second of the
 * first is the same one arriving twice (from the terminal's process group and again from npm, which
 * passes SIGINT and SIGTERM on to its child) and is ignored.
 */
function watchForStop(stop: () => Promise<unknown>): void {
  let requested = false;
  let firstAt = 0;
  const begin = (reason: string) => {
    if (requested) {
      if (reason !== "SIGINT" || Date.now() - firstAt < 1000) return;
      console.error("SIGINT again: exiting now");
      process.exit(1);
    }
    firstAt = Date.now();
    requested = true;
    console.error(`${reason}: stopping…`);
    setTimeout(() => {
      console.error(`still stopping after ${STOP_DEADLINE_MS} ms: exiting now`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    void stop().then(() => process.exit(0), (error: unknown) => exitOnError(error));
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => begin(signal));
  const parent = process.ppid;
  // Polled: Node has no parent-death signal. Unref'd, so it never keeps the process alive by itself.
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    begin("parent process gone");
  }, 500).unref();
}
