import { describe, expect, it } from "vitest";
import { describeServedDiff, diffServed } from "../runtime/namespace/index.js";

const cart = { name: "Cart", type: "object" as const, handlers: [{ name: "add", kind: "exclusive" as const }, { name: "get", kind: "shared" as const }] };
const billing = { name: "Billing", type: "service" as const, handlers: [{ name: "charge", kind: "service" as const }] };

describe("the namespace record's comparison", () => {
  it("names missing and extra services, and tells how to add them", () => {
    const diff = diffServed([cart], [billing]);
    expect(diff).toEqual({ missing: ["object Cart"], extra: ["service Billing"], changed: [] });
    expect(describeServedDiff("shop", diff, "refuse")).toBe(
      'namespace "shop" records other services than this host serves (missing: object Cart; extra: service Billing). ' +
        'Every host of a namespace serves everything its record holds, with the same types and kinds: a rolling upgrade may add services and handlers (namespaceChange: "add"), ' +
        'never remove or change one. To remove or change one, stop every host of the namespace and delete its record (see "Namespace consistency" in docs/architecture.md).',
    );
  });

  it("offers the upgrade option when the host only adds", () => {
    const more = { ...cart, handlers: [...cart.handlers, { name: "clear", kind: "exclusive" as const }] };
    const diff = diffServed([cart], [more, billing]);
    expect(diff).toEqual({ missing: [], extra: ["service Billing", "handler Cart.clear (exclusive)"], changed: [] });
    expect(describeServedDiff("shop", diff, "refuse")).toBe(
      'namespace "shop" records other services than this host serves (extra: service Billing, handler Cart.clear (exclusive)). To add them in a rolling upgrade, start the new hosts with namespaceChange: "add".',
    );
  });

  it("names a changed type or handler kind", () => {
    const sharedAdd = { ...cart, handlers: [{ name: "add", kind: "shared" as const }, cart.handlers[1]!] };
    expect(diffServed([cart], [sharedAdd]).changed).toEqual(["handler Cart.add is exclusive in the namespace, shared here"]);
    expect(diffServed([cart], [{ name: "Cart", type: "workflow", handlers: [] }]).changed).toEqual(["Cart is an object in the namespace, a workflow here"]);
  });
});
