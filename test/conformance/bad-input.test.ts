import { describe, expect, it } from "vitest";
import { object } from "cairn";
import { orderService, shoppingCart } from "../../examples/shopping-cart.js";
import { echo, probe } from "../fixtures/probe.js";
import { terminalError } from "../helpers/expect.js";
import { modes, useMode } from "../helpers/modes.js";

const LONE = "lone\uD800surrogate";
const item = (sku: string) => ({ sku, qty: 1, priceCents: 100 });

describe.each(modes)("$label", (mode) => {
  const h = useMode(mode).sharedHost({ services: [probe, echo, shoppingCart, orderService], host: { partitions: 4 } });

  it("refuses input failing its schema with a 400 TerminalError naming the handler and problem", async () => {
    const cart = h.client.objectClient(shoppingCart, "bad");
    const error = await terminalError(cart.addItem({ sku: "x", qty: -1, priceCents: 1 }));
    expect(error.message).toBe("ShoppingCart.addItem: invalid input: input.qty: Too small: expected number to be >0");
    expect(error.errorCode).toBe(400);
    expect(await cart.getItems()).toEqual([]);
    const service = await terminalError(h.client.serviceClient(echo).shout(42 as unknown as string));
    expect(service.message).toMatch(/^Echo\.shout: invalid input: input: /);
    expect(service.errorCode).toBe(400);
  });

  it("refuses input whose schema throws, and a result that fails the output schema", async () => {
    expect((await terminalError(h.client.serviceClient(echo).parse("{bad"))).message).toMatch(/^Echo\.parse: invalid input: /);
    expect(await h.client.serviceClient(echo).parse('{"ok":1}')).toEqual({ ok: 1 });
    expect((await terminalError(h.client.objectClient(probe, "rules").badOutput())).message).toMatch(/^Probe\.badOutput: invalid output: output: /);
  });

  it("refuses an unknown object and an unknown handler with 404", async () => {
    const ghost = object({ name: "Ghost", handlers: { boo: async () => 1 } });
    const unknownObject = await terminalError(h.client.objectClient(ghost, "g").boo());
    expect(unknownObject.message).toMatch(/^Ghost\.boo: unknown object or service "Ghost"/);
    expect(unknownObject.errorCode).toBe(404);
    const fakeCart = object({ name: "ShoppingCart", handlers: { explode: async () => 1 } });
    const unknownHandler = await terminalError(h.client.objectClient(fakeCart, "g").explode());
    expect(unknownHandler.message).toBe('ShoppingCart.explode: unknown handler "explode" (ShoppingCart has: addItem, getItems, checkout)');
    expect(unknownHandler.errorCode).toBe(404);
  });

  it("refuses a payload over the maximum with 413", async () => {
    const big = { sku: "x".repeat(1024 * 1024 + 10), qty: 1, priceCents: 1 };
    const error = await terminalError(h.client.objectClient(shoppingCart, "big").addItem(big));
    expect(error.message).toMatch(/^ShoppingCart\.addItem: payload of \d+ bytes exceeds the maximum of 1048576 bytes$/);
    expect(error.errorCode).toBe(413);
  });

  it("refuses bad object keys and state names with 400, naming the call", async () => {
    const call = await terminalError(h.client.objectClient(probe, LONE).append(1));
    expect(call.message).toBe("objectClient(Probe, key).append: the object key holds a lone surrogate at index 4; an object key must be well-formed UTF-16");
    expect(call.errorCode).toBe(400);
    const send = await terminalError(h.client.objectSendClient(probe, LONE).append(1));
    expect(send.message).toBe("objectSendClient(Probe, key).append: the object key holds a lone surrogate at index 4; an object key must be well-formed UTF-16");
    const long = await terminalError(h.client.objectClient(probe, "k".repeat(1100)).list());
    expect(long.message).toMatch(/the object key is over 1024 bytes/);
    expect(long.errorCode).toBe(400);
    expect((await terminalError(h.client.objectClient(probe, "rules").longName())).message).toMatch(
      /a state name must be a non-empty string of at most 256 bytes/,
    );
  });

  it("keeps serving the other keys, and the same keys, after each kind of bad input", async () => {
    const refused = [
      h.client.objectClient(shoppingCart, "neighbour").addItem({ sku: "", qty: 0, priceCents: -1 }),
      h.client.objectClient(shoppingCart, "neighbour").addItem({ sku: "y".repeat(1024 * 1024 + 10), qty: 1, priceCents: 1 }),
      h.client.objectClient(object({ name: "ShoppingCart", handlers: { nope: async () => 1 } }), "neighbour").nope(),
      h.client.objectClient(probe, LONE).append(1),
    ];
    for (const error of await Promise.all(refused.map((p) => terminalError(p)))) expect(error.errorCode).toBeGreaterThanOrEqual(400);
    expect(await h.client.objectClient(shoppingCart, "neighbour").addItem(item("ok"))).toEqual({ itemCount: 1 });
    expect(await h.client.objectClient(shoppingCart, "after-bad").addItem(item("ok"))).toEqual({ itemCount: 1 });
    await h.client.objectClient(probe, "after-bad").append(1);
    expect(await h.client.objectClient(probe, "after-bad").list()).toEqual([1]);
  });
});
