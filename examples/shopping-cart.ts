/**
 * The ShoppingCart from the API guide: exclusive `addItem`, shared `getItems`, and `checkout`,
 * which charges a (fake, in-process) payment gateway inside `ctx.run` (journaled: a retried or
 * resumed checkout does not charge again) and hands the order to `OrderService.fulfill` with a
 * one-way send released with its commit.
 *
 * Run it: `npm run example:cart` (embedded: no server; data in `.cairn/examples/cart`, emptied at
 * each run). On NATS: `npm run example:cart -- --nats` uses the server at CAIRN_NATS_URL
 * (default nats://127.0.0.1:4222), and `npm run example:cart:nats` starts a local one first.
 */
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { z } from "zod";
import { type Context, type ObjectContext, type ObjectSharedContext, TerminalError, handlers, object, service } from "cairn";
import { runWhenMain } from "./run-main.js";

const CartItem = z.object({ sku: z.string().min(1), qty: z.number().int().positive(), priceCents: z.number().int().nonnegative() });
type CartItem = z.infer<typeof CartItem>;

/** A stand-in for a real payment provider, outside Cairn: it charges every time it is asked. */
export const payments = {
  charged: [] as Array<{ customer: string; amountCents: number; orderId: string }>,
  async charge(customer: string, amountCents: number): Promise<{ orderId: string; amountCents: number }> {
    const orderId = `order-${randomUUID().slice(0, 8)}`;
    payments.charged.push({ customer, amountCents, orderId });
    return { orderId, amountCents };
  },
};

/** Orders handed to shipping, in this process. */
export const shipped: string[] = [];

const total = (items: CartItem[]) => items.reduce((sum, item) => sum + item.qty * item.priceCents, 0);

export const orderService = service({
  name: "OrderService",
  handlers: {
    fulfill: async (ctx: Context, orderId: string) => {
      ctx.log.info({ orderId }, "shipping order");
      shipped.push(orderId);
    },
  },
});

export const shoppingCart = object({
  name: "ShoppingCart",
  handlers: {
    // exclusive: one at a time per key; may write state
    addItem: handlers.object.exclusive({ input: CartItem }, async (ctx: ObjectContext, item) => {
      const items = (await ctx.get<CartItem[]>("items")) ?? [];
      items.push(item);
      ctx.set("items", items);
      return { itemCount: items.length };
    }),
    // shared: concurrent, read-only, sees the last committed state
    getItems: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<CartItem[]>("items")) ?? []),
    // a bare function is an exclusive handler
    checkout: async (ctx: ObjectContext) => {
      const items = await ctx.get<CartItem[]>("items");
      if (!items?.length) throw new TerminalError("Cart is empty");
      const payment = await ctx.run("process-payment", () => payments.charge(ctx.key, total(items)));
      ctx.clear("items");
      ctx.serviceSendClient(orderService).fulfill(payment.orderId); // durable, released with the commit
      return payment;
    },
  },
});

async function main(): Promise<void> {
  const { startHost } = await import("cairn/runtime");
  const onNats = process.argv.slice(2).includes("--nats");
  const dataDir = onNats ? ".cairn/example-cart" : ".cairn/examples/cart";
  if (!onNats) rmSync(dataDir, { recursive: true, force: true });
  const host = await startHost({
    services: [shoppingCart, orderService],
    dataDir,
    // `npm run example:cart:nats` starts a local NATS server and passes its host user on.
    ...(onNats
      ? {
          nats: {
            servers: process.env.CAIRN_NATS_URL ?? "nats://127.0.0.1:4222",
            ...(process.env.CAIRN_NATS_USER ? { user: process.env.CAIRN_NATS_USER, pass: process.env.CAIRN_NATS_PASSWORD ?? "" } : {}),
          },
        }
      : {}),
    logLevel: "error",
  });
  console.log(onNats ? `a host on NATS at ${process.env.CAIRN_NATS_URL ?? "nats://127.0.0.1:4222"}` : "an embedded host (no server)");
  const cart = host.client.objectClient(shoppingCart, `user-${randomUUID().slice(0, 6)}`);
  const say = (what: string, value?: unknown) => console.log(what.padEnd(44), value === undefined ? "" : JSON.stringify(value));
  try {
    say("addItem(2 x apple @ 120)", await cart.addItem({ sku: "apple", qty: 2, priceCents: 120 }, { idempotencyKey: "add-1" }));
    say("addItem(1 x pear @ 90)", await cart.addItem({ sku: "pear", qty: 1, priceCents: 90 }, { idempotencyKey: "add-2" }));
    say("addItem(apple) again, same idempotency key", await cart.addItem({ sku: "apple", qty: 2, priceCents: 120 }, { idempotencyKey: "add-1" }));
    say("getItems()", await cart.getItems());
    try {
      await cart.addItem({ sku: "", qty: -1, priceCents: 1 });
    } catch (error) {
      say("addItem(bad input) rejected:", (error as Error).message);
    }
    const payment = await cart.checkout();
    say("checkout()", payment);
    try {
      await cart.checkout();
    } catch (error) {
      say(`checkout() again: ${(error as Error).name}`, (error as Error).message);
    }
    const deadline = Date.now() + 10_000;
    while (!shipped.includes(payment.orderId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    say("OrderService.fulfill received", shipped.includes(payment.orderId) ? payment.orderId : "not within 10 s");
    say("payments charged", payments.charged.length);
  } finally {
    await host.close();
  }
}

runWhenMain(import.meta.url, main);
