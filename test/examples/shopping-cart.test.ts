// examples/shopping-cart.ts's checkout: the charge is a journaled step and the order leaves with the
// commit, in a normal host and in one that replays the handler after every suspension point (where
// a charge made outside ctx.run would be made again).
import { beforeEach, describe, expect, it } from "vitest";
import { TerminalError } from "cairn";
import { createTestEnvironment } from "cairn/testing";
import { orderService, payments, shipped, shoppingCart } from "../../examples/shopping-cart.js";
import { eventually } from "../helpers/host.js";

describe.each([
  { label: "a normal host", alwaysReplay: false },
  { label: "a host replaying at every suspension point", alwaysReplay: true },
])("the shopping cart's checkout on $label", ({ alwaysReplay }) => {
  beforeEach(() => {
    payments.charged.length = 0;
    shipped.length = 0;
  });

  it("charges the cart's total once and sends the order to OrderService.fulfill", async () => {
    const env = await createTestEnvironment({ services: [shoppingCart, orderService], alwaysReplay, logLevel: "error" });
    try {
      const cart = env.client.objectClient(shoppingCart, "buyer");
      await cart.addItem({ sku: "apple", qty: 2, priceCents: 120 });
      await cart.addItem({ sku: "pear", qty: 1, priceCents: 90 });
      const payment = await cart.checkout();
      expect(payment.amountCents).toBe(330);
      expect(payments.charged).toEqual([{ customer: "buyer", amountCents: 330, orderId: payment.orderId }]);
      expect(await eventually(() => shipped.includes(payment.orderId), 5000)).toBe(true);
      expect(shipped).toEqual([payment.orderId]);
      expect(await cart.getItems()).toEqual([]);
      await expect(cart.checkout()).rejects.toThrow(TerminalError);
      await expect(cart.checkout()).rejects.toThrow("Cart is empty");
      expect(payments.charged).toHaveLength(1);
    } finally {
      await env.close();
    }
  });
});
