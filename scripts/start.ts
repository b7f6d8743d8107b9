// `npm start`: `cairn start` with the examples, embedded by default (`--nats` for NATS), with the HTTP
// ingress on 127.0.0.1:8080, printing how to call them. Its options are README's (`--port`, `--data`,
// `--nats URL|local`, and their environment variables).
import type { Host } from "cairn/runtime";
import { counter, mirror } from "../examples/counter.js";
import { orderService, shoppingCart } from "../examples/shopping-cart.js";
import { type LocalNats, exitOnError, serve } from "../cli/index.js";
import { START_USAGE, type StartOptions, parseStartOptions } from "./start-options.js";

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
const services = [shoppingCart, orderService, counter, mirror];
// CAIRN_INGRESS_TOKEN: the ingress then requires `Authorization: Bearer <token>` (`npm run call` sends it).
const ingressToken = process.env.CAIRN_INGRESS_TOKEN || undefined;
await serve({ services, nats: options.nats, dataDir: options.dataDir, httpPort: options.httpPort, ingressToken, admin: undefined, partitions: undefined }, (host, server) => howToCall(host, options, server));

function howToCall(running: Host, options: StartOptions, server: LocalNats | undefined): string {
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
  return `
Cairn host running ${where}: ShoppingCart, OrderService, Counter, Mirror (data: ${options.dataDir}).
${ingressUrl ? `HTTP ingress on ${ingressUrl}. ` : ""}In another terminal, call it:

${lines.map((line) => `    ${line}`).join("\n")}

Ctrl-C stops the host${server?.pid ? " and the nats-server it started" : ""}.
`;
}
