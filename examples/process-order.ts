/**
 * Processing an order as one workflow per order id: charge the card, create the subscription, then
 * send the welcome email and provision the account in parallel, and return every id. Each step is a
 * `ctx.run`: its result is journaled before the workflow goes on, so a crash anywhere resumes the
 * order where it stood and never charges the card again once the charge committed. The charge is
 * retried on transient gateway errors with exponential backoff (1 s, 2 s, 4 s, … up to 2 min, five
 * tries) and fails at once on a declined or invalid card.
 *
 * Run it: `npm run example:process-order` (embedded: no server; its data dir is
 * `.cairn/examples/process-order`, emptied at each run so that the story starts fresh).
 */
import { appendFileSync, rmSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { type RunOptions, TerminalError, type WorkflowContext, type WorkflowSharedContext, workflow } from "cairn";
import { runWhenMain } from "./run-main.js";

/** The card was refused: retrying does not help. */
export class CardDeclinedError extends Error {
  override name = "CardDeclinedError";
}

/** The card number is not one: retrying does not help. */
export class InvalidCardError extends Error {
  override name = "InvalidCardError";
}

/** The payment gateway did not answer in time: worth another try. */
export class GatewayTimeoutError extends Error {
  override name = "GatewayTimeoutError";
}

export interface OrderInput {
  customer: string;
  email: string;
  /** A fake card: "…-declined" is refused, "…-invalid" is not a card, "…-flaky-N" times out N times per process. */
  card: string;
  plan: string;
  amountCents: number;
}

export interface OrderResult {
  orderId: string;
  chargeId: string;
  subscriptionId: string;
  emailId: string;
  accountId: string;
}

/** What a fake provider did, in the order it did it. */
export type ProviderEvent =
  | { kind: "charge"; orderId: string; id: string; amountCents: number }
  | { kind: "charge-failed"; orderId: string; error: string }
  | { kind: "subscription" | "email" | "account"; orderId: string; id: string };

/**
 * Stand-ins for the payment gateway, the billing system, the mailer and provisioning: outside
 * Cairn, they do what they are asked every time they are asked. Each records what it did in
 * `events`, and in `ledgerPath` when set (one line, appended synchronously, so that it survives a
 * SIGKILL right after), then takes `latencyMs()` to answer.
 */
export const providers = {
  events: [] as ProviderEvent[],
  ledgerPath: undefined as string | undefined,
  latencyMs: (): number => 0,
  onEvent: (_event: ProviderEvent): void => undefined,
  /** Charge attempts per order in this process, for the flaky cards. */
  tries: new Map<string, number>(),

  record(event: ProviderEvent): void {
    providers.events.push(event);
    if (providers.ledgerPath) appendFileSync(providers.ledgerPath, `${JSON.stringify(event)}\n`);
    providers.onEvent(event);
  },

  async answer<T>(value: T): Promise<T> {
    const ms = providers.latencyMs();
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    return value;
  },

  async charge(orderId: string, card: string, amountCents: number): Promise<{ chargeId: string }> {
    const tries = (providers.tries.get(orderId) ?? 0) + 1;
    providers.tries.set(orderId, tries);
    const flaky = /-flaky-(\d+)$/.exec(card);
    const error = card.endsWith("-declined")
      ? new CardDeclinedError(`card ${card} was declined`)
      : card.endsWith("-invalid")
        ? new InvalidCardError(`${card} is not a card number`)
        : flaky && tries <= Number(flaky[1])
          ? new GatewayTimeoutError(`the payment gateway timed out (try ${tries})`)
          : undefined;
    if (error) {
      providers.record({ kind: "charge-failed", orderId, error: `${error.name}: ${error.message}` });
      throw error;
    }
    const chargeId = `ch_${randomUUID().slice(0, 8)}`;
    providers.record({ kind: "charge", orderId, id: chargeId, amountCents });
    return providers.answer({ chargeId });
  },

  async createSubscription(orderId: string): Promise<{ subscriptionId: string }> {
    const subscriptionId = `sub_${randomUUID().slice(0, 8)}`;
    providers.record({ kind: "subscription", orderId, id: subscriptionId });
    return providers.answer({ subscriptionId });
  },

  async sendWelcomeEmail(orderId: string): Promise<{ emailId: string }> {
    const emailId = `em_${randomUUID().slice(0, 8)}`;
    providers.record({ kind: "email", orderId, id: emailId });
    return providers.answer({ emailId });
  },

  async provisionAccount(orderId: string): Promise<{ accountId: string }> {
    const accountId = `acct_${randomUUID().slice(0, 8)}`;
    providers.record({ kind: "account", orderId, id: accountId });
    return providers.answer({ accountId });
  },
};

/** Transient gateway errors are retried with backoff; a refused or invalid card fails the order at once. */
export const CHARGE_RETRY: RunOptions = {
  maxAttempts: 5,
  initialIntervalMs: 1000,
  maxIntervalMs: 120_000,
  backoffCoefficient: 2,
  nonRetryableErrors: ["CardDeclinedError", "InvalidCardError"],
};

export const processOrder = workflow({
  name: "ProcessOrder",
  handlers: {
    run: async (ctx: WorkflowContext, order: OrderInput): Promise<OrderResult> => {
      const orderId = ctx.key;
      ctx.set("status", "charging");
      let chargeId: string;
      try {
        ({ chargeId } = await ctx.run("charge", () => providers.charge(orderId, order.card, order.amountCents), CHARGE_RETRY));
      } catch (error) {
        // A TerminalError commits the state written before it: `status` says why the order failed.
        if (error instanceof TerminalError) ctx.set("status", `payment failed: ${error.message}`);
        throw error;
      }
      ctx.set("status", "subscribing");
      const { subscriptionId } = await ctx.run("subscription", () => providers.createSubscription(orderId));
      ctx.set("status", "welcoming");
      const [{ emailId }, { accountId }] = await Promise.all([
        ctx.run("email", () => providers.sendWelcomeEmail(orderId)),
        ctx.run("provision", () => providers.provisionAccount(orderId)),
      ]);
      ctx.set("status", "done");
      return { orderId, chargeId, subscriptionId, emailId, accountId };
    },
    status: async (ctx: WorkflowSharedContext) => (await ctx.get<string>("status")) ?? "unknown order",
  },
});

async function main(): Promise<void> {
  const { startHost } = await import("cairn/runtime");
  const dataDir = ".cairn/examples/process-order";
  rmSync(dataDir, { recursive: true, force: true });
  const host = await startHost({ services: [processOrder], dataDir, logLevel: "error" });
  const startedMs = Date.now();
  const say = (line: string) => console.log(`+${((Date.now() - startedMs) / 1000).toFixed(2)}s  ${line}`);
  providers.latencyMs = () => 50;
  providers.onEvent = (event) => {
    switch (event.kind) {
      case "charge":
        return say(`  payments: ${event.orderId} charged ${(event.amountCents / 100).toFixed(2)} (${event.id})`);
      case "charge-failed":
        return say(`  payments: ${event.orderId} not charged: ${event.error}`);
      case "subscription":
      case "email":
      case "account":
        return say(`  ${event.kind}: ${event.orderId} → ${event.id}`);
      default: {
        const never: never = event;
        throw new Error(`unknown provider event ${JSON.stringify(never)}`);
      }
    }
  };
  const order = (card: string): OrderInput => ({ customer: "ada", email: "ada@example.com", card, plan: "pro", amountCents: 4900 });
  const place = async (orderId: string, input: OrderInput) => {
    try {
      const result = await host.client.workflowClient(processOrder, orderId).run(input);
      say(`${orderId} done: ${JSON.stringify(result)}`);
      return result;
    } catch (error) {
      say(`${orderId} failed: ${(error as Error).name}: ${(error as Error).message}`);
      return undefined;
    }
  };
  try {
    say("order-1: the gateway times out twice; Cairn retries the charge after 1 s, then 2 s");
    await place("order-1", order("4000-flaky-2"));
    say("order-1 again: the workflow ran once for this id, so this is its first result, and no new charge");
    await place("order-1", order("4000-flaky-2"));
    say("order-2: a declined card is not retried (nonRetryableErrors)");
    await place("order-2", order("4000-declined"));
    say(`status(order-2) = ${await host.client.workflowClient(processOrder, "order-2").status()}`);
    say("order-3 and order-4 at once; in each, the email and the account are made in parallel");
    await Promise.all([place("order-3", order("4242-ok")), place("order-4", order("4242-ok"))]);
    const charges = providers.events.filter((e) => e.kind === "charge");
    say(`charges: ${charges.length} (${charges.map((c) => c.orderId).join(", ")})`);
  } finally {
    await host.close();
  }
}

runWhenMain(import.meta.url, main);
