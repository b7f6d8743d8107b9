// `npm start`: a host serving the examples, on a local nats-server started here when none answers.
import { startHost } from "cairn/runtime";
import { counter, mirror } from "../examples/counter.js";
import { orderService, shoppingCart } from "../examples/shopping-cart.js";
import { ensureLocalNats } from "./local-nats.js";
import { natsFromEnv } from "./nats-auth.js";

const nats = await ensureLocalNats();
const host = await startHost({
  services: [shoppingCart, orderService, counter, mirror],
  dataDir: process.env.CAIRN_DATA_DIR ?? ".cairn/host-1",
  nats: { ...natsFromEnv("host"), servers: nats.url },
});
console.log(`
Cairn host running: ShoppingCart, OrderService, Counter, Mirror on ${nats.url}.
In another terminal, call it:

    npm run call -- ShoppingCart/user-1/addItem '{"sku":"apple","qty":2,"priceCents":120}'
    npm run call -- ShoppingCart/user-1/getItems
    npm run call -- ShoppingCart/user-1/checkout

Ctrl-C stops the host (and the nats-server it started).
`);
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log("stopping…");
    host
      .close()
      .finally(() => nats.stop())
      .then(() => process.exit(0), () => process.exit(1));
  });
}
