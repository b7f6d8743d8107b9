// The handlers the durable-execution benchmark runs: in a file of their own, so that a host in
// another process (NATS mode, bench/durable-host-main.ts) serves the same definitions.
import { type ObjectContext, type WorkflowContext, object, workflow } from "cairn";

export interface Order {
  amountCents: number;
  plan: string;
}

/**
 * In-process stand-ins for a payment and a subscription provider: they answer at once, so that the
 * figures measure what Cairn adds around a step (its journal entry and commit), not a provider.
 */
const fakeProviders = {
  charge: async (orderId: string, amountCents: number) => `ch_${orderId}_${amountCents}`,
  createSubscription: async (orderId: string, plan: string) => `sub_${orderId}_${plan}`,
};

/** The two-step process-order workflow: each step's result is committed before the next one runs. */
export const processOrder = workflow({
  name: "BenchProcessOrder",
  handlers: {
    run: async (ctx: WorkflowContext, order: Order) => {
      const chargeId = await ctx.run("charge", () => fakeProviders.charge(ctx.key, order.amountCents));
      const subscriptionId = await ctx.run("create-subscription", () => fakeProviders.createSubscription(ctx.key, order.plan));
      return { chargeId, subscriptionId };
    },
  },
});

/** The callee of the request-response chain. */
export const chainB = object({
  name: "BenchChainB",
  handlers: {
    answer: async (_ctx: ObjectContext, n: number) => n + 1,
  },
});

/** The caller: an exclusive handler that suspends until B's answer is committed back to it. */
export const chainA = object({
  name: "BenchChainA",
  handlers: {
    ask: async (ctx: ObjectContext, n: number): Promise<number> => ctx.objectClient(chainB, ctx.key).answer(n),
  },
});

export const durableBenchServices = [processOrder, chainA, chainB];
