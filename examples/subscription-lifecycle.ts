/**
 * A subscription as one workflow per subscriber: it sleeps 30 days, charges the renewal, and on a
 * declined card retries once a day for a 7-day grace period before it cancels the subscription.
 * A `cancel` signal (a durable promise resolved by a shared handler) ends it when the paid period
 * ends, and `status` reads where it is. The workflow runs for years; the sleeps are durable timers,
 * so a host restart in month 17 resumes it in month 17.
 *
 * Run it: `npm run example:subscription-lifecycle`. It runs on the test clock of `cairn/testing`
 * (an embedded host whose time moves only when the program moves it), so the five-year story it
 * prints takes a few seconds; on `startHost` the same workflow would take five years.
 */
import { TerminalError, type WorkflowContext, type WorkflowSharedContext, workflow } from "cairn";
import { runWhenMain } from "./run-main.js";

export const DAY_MS = 86_400_000;
export const BILLING_PERIOD_DAYS = 30;
export const GRACE_PERIOD_DAYS = 7;

export interface Plan {
  name: string;
  priceCents: number;
}

/** Thrown by the billing provider when the card is refused: retrying now would not help. */
export class PaymentDeclinedError extends Error {
  override name = "PaymentDeclinedError";
}

export interface RenewalCharge {
  subscription: string;
  period: number;
  amountCents: number;
  atMs: number;
  chargeId: string;
}

/**
 * A stand-in billing provider, outside Cairn: it refuses the cards it is told to refuse, and
 * records every charge it accepts. `clock` and `onEvent` let a program date and print what happens.
 */
export class FakeBilling {
  readonly charges: RenewalCharge[] = [];
  readonly declines: Array<{ subscription: string; period: number; atMs: number }> = [];
  private readonly refused = new Set<string>();
  clock: () => number = () => Date.now();
  /** `routine`: a renewal charged on its first try, which a story may leave out. */
  onEvent: (line: string, routine: boolean) => void = () => undefined;

  /** From now on, this subscription's card is declined (until `acceptCard`). */
  declineCard(subscription: string): void {
    this.refused.add(subscription);
  }

  acceptCard(subscription: string): void {
    this.refused.delete(subscription);
  }

  async charge(subscription: string, period: number, amountCents: number): Promise<RenewalCharge> {
    const atMs = this.clock();
    if (this.refused.has(subscription)) {
      this.declines.push({ subscription, period, atMs });
      this.onEvent(`${subscription}: renewal ${period} declined`, false);
      throw new PaymentDeclinedError(`the card of ${subscription} was declined`);
    }
    const charge = { subscription, period, amountCents, atMs, chargeId: `ch_${subscription}_${period}` };
    this.charges.push(charge);
    const triesBefore = this.declines.filter((d) => d.subscription === subscription && d.period === period).length;
    this.onEvent(`${subscription}: renewal ${period} charged (${(amountCents / 100).toFixed(2)})${triesBefore ? ` after ${triesBefore} declined tries` : ""}`, triesBefore === 0);
    return charge;
  }

  reset(): void {
    this.charges.length = 0;
    this.declines.length = 0;
    this.refused.clear();
  }
}

export const billing = new FakeBilling();

export type SubscriptionState = "active" | "past-due" | "cancelled";

export interface SubscriptionStatus {
  state: SubscriptionState;
  plan: string;
  /** Renewals charged so far. */
  renewals: number;
  /** Declined tries of the renewal now due (0 unless past due). */
  declines: number;
  /** Why it was cancelled: "user: <reason>" or "payment failed". */
  cancelledBecause?: string;
}

/**
 * The user's cancel request, if there is one: the `cancelled` promise, resolved by the shared
 * `cancel` handler. `peek` is journaled, so a replay reads what the first run read.
 */
async function cancelRequest(ctx: WorkflowContext): Promise<string | undefined> {
  return ctx.promise<string>("cancelled").peek();
}

export const subscriptionLifecycle = workflow({
  name: "SubscriptionLifecycle",
  handlers: {
    run: async (ctx: WorkflowContext, plan: Plan): Promise<SubscriptionStatus> => {
      const status: SubscriptionStatus = { state: "active", plan: plan.name, renewals: 0, declines: 0 };
      const save = () => ctx.set("status", status);
      const end = async (because: string) => {
        status.state = "cancelled";
        status.cancelledBecause = because;
        save();
        await ctx.run("cancellation-email", () => billing.onEvent(`${ctx.key}: cancelled (${because}); goodbye email sent`, false));
        return status;
      };
      save();
      for (let period = 1; ; period++) {
        // A cancel request takes effect when the paid period ends: the renewal is not charged.
        // (Not a Promise.race of this sleep with the promise: see the note at the end of the file.)
        await ctx.sleep(BILLING_PERIOD_DAYS * DAY_MS);
        const cancelled = await cancelRequest(ctx);
        if (cancelled !== undefined) return end(`user: ${cancelled}`);
        // The renewal: the day it falls due, then once a day through the grace period.
        for (let day = 0; ; day++) {
          try {
            await ctx.run(`renewal-${period}`, () => billing.charge(ctx.key, period, plan.priceCents), {
              nonRetryableErrors: ["PaymentDeclinedError"],
              maxAttempts: 3,
              initialIntervalMs: 60_000,
            });
            status.renewals++;
            status.state = "active";
            status.declines = 0;
            save();
            break;
          } catch (error) {
            if (!(error instanceof TerminalError)) throw error;
            status.declines++;
            status.state = "past-due";
            save();
          }
          if (day === GRACE_PERIOD_DAYS) return end("payment failed");
          await ctx.sleep(DAY_MS);
          const cancelledMeanwhile = await cancelRequest(ctx);
          if (cancelledMeanwhile !== undefined) return end(`user: ${cancelledMeanwhile}`);
        }
      }
    },
    /** The user's cancel signal: resolves the `cancelled` promise (a second cancel changes nothing). */
    cancel: async (ctx: WorkflowSharedContext, reason: string) => ctx.promise<string>("cancelled").resolve(reason),
    /** Where the subscription is, and whether a cancel request waits for the end of the period. */
    status: async (ctx: WorkflowSharedContext): Promise<(SubscriptionStatus & { cancelRequested?: string }) | null> => {
      const status = await ctx.get<SubscriptionStatus>("status");
      const requested = await ctx.promise<string>("cancelled").peek();
      return status && requested !== undefined && status.state !== "cancelled" ? { ...status, cancelRequested: requested } : status;
    },
  },
});

async function main(): Promise<void> {
  const { createTestEnvironment } = await import("cairn/testing");
  const startTimeMs = Date.UTC(2026, 0, 1);
  const env = await createTestEnvironment({ services: [subscriptionLifecycle], startTimeMs, logLevel: "error" });
  const date = () => new Date(env.now()).toISOString().slice(0, 10);
  const say = (line: string) => console.log(`${date()}  ${line}`);
  billing.clock = () => env.now();
  billing.onEvent = (line, routine) => {
    if (!routine) say(line);
  };
  const subscriber = (name: string) => env.client.workflowClient(subscriptionLifecycle, name);
  const names = ["alice", "bob", "carol"];
  const show = async (name: string) => say(`  status(${name}) = ${JSON.stringify(await subscriber(name).status())}`);
  /** Moves the test clock to `day` days after the start, through every renewal due on the way. */
  const toDay = async (day: number) => env.advanceTime({ ms: startTimeMs + day * DAY_MS - env.now() });
  const charged = (name: string) => billing.charges.filter((c) => c.subscription === name).length;
  try {
    say("an embedded host on the test clock of cairn/testing: five years pass in a few seconds");
    const pro = { name: "pro", priceCents: 1200 };
    for (const name of names) {
      // `run` answers when the workflow ends, years from now: started with a send, its result read at the end.
      await env.client.workflowSendClient(subscriptionLifecycle, name).run(pro);
    }
    say(`alice, bob and carol subscribe to pro, 12.00 every ${BILLING_PERIOD_DAYS} days (routine renewals are not printed)`);

    await toDay(100);
    say("bob's card expires");
    billing.declineCard("bob");
    await toDay(121.5);
    await show("bob");
    await toDay(122.5);
    say("bob updates his card, within the grace period");
    billing.acceptCard("bob");
    await toDay(365);
    say(`after a year: renewals charged alice ${charged("alice")}, bob ${charged("bob")}, carol ${charged("carol")}`);

    await toDay(400);
    say("carol asks to cancel; it takes effect when her paid period ends");
    await subscriber("carol").cancel("moving abroad");
    await show("carol");
    await toDay(700);
    say("bob's card is declined again, and this time he never fixes it");
    billing.declineCard("bob");
    await toDay(800);
    await show("bob");

    await toDay(5 * 365 + 1);
    say(`after five years: alice has ${charged("alice")} renewals charged; she cancels`);
    await subscriber("alice").cancel("done");
    await toDay(5 * 365 + 31);
    for (const name of names) say(`${name}'s workflow ended: ${JSON.stringify(await subscriber(name).run(pro))}`);
    say(`renewals charged: alice ${charged("alice")}, bob ${charged("bob")}, carol ${charged("carol")}; declined tries: ${billing.declines.length}`);
  } finally {
    await env.close();
  }
}

runWhenMain(import.meta.url, main);

// Why the cancel request is read after each sleep instead of raced against it
// (`Promise.race([ctx.sleep(ms), ctx.promise("cancelled").get()])`), which would end the sleep at
// once: two core bugs of this version, see test/examples/race-core-bugs.test.ts. The race's losing
// wait keeps the invocation counted as parked, so the test clock moves on while it still runs; and
// a replay of an earlier race, after the promise was resolved, lets the promise win where the sleep
// won the first time.
