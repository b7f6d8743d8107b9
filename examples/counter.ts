import { type ObjectContext, type ObjectSharedContext, handlers, object } from "cairn";

/** Receives what `Counter.add` forwards; its total must always catch up with the Counter's. */
export const mirror = object({
  name: "Mirror",
  handlers: {
    add: async (ctx: ObjectContext, amount: number) => {
      const total = ((await ctx.get<number>("total")) ?? 0) + amount;
      ctx.set("total", total);
      return total;
    },
    total: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<number>("total")) ?? 0),
  },
});

/** Adds to its total and forwards the same amount to the `Mirror` of the same key, one-way. */
export const counter = object({
  name: "Counter",
  handlers: {
    add: async (ctx: ObjectContext, amount: number) => {
      const total = ((await ctx.get<number>("total")) ?? 0) + amount;
      ctx.set("total", total);
      ctx.objectSendClient(mirror, ctx.key).add(amount);
      return total;
    },
    total: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<number>("total")) ?? 0),
  },
});
