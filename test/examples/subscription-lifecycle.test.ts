// examples/subscription-lifecycle.ts on the test clock: years of 30-day cycles in seconds, in a
// normal host and in one that replays the workflow from its journal after every suspension point.
import { rmSync } from "node:fs";
import { beforeEach, describe, expect, it } from "vitest";
import { type TestEnvironment, createTestEnvironment } from "cairn/testing";
import { BILLING_PERIOD_DAYS, DAY_MS, GRACE_PERIOD_DAYS, billing, subscriptionLifecycle } from "../../examples/subscription-lifecycle.js";
import { tempDir } from "../helpers/host.js";

const START_MS = Date.UTC(2026, 0, 1);
const PERIOD_MS = BILLING_PERIOD_DAYS * DAY_MS;
const pro = { name: "pro", priceCents: 1200 };

describe.each([
  { label: "a normal host", alwaysReplay: false },
  { label: "a host replaying at every suspension point", alwaysReplay: true },
])("the subscription lifecycle on $label", ({ alwaysReplay }) => {
  beforeEach(() => billing.reset());

  const withEnv = async (test: (env: TestEnvironment) => Promise<void>, dataDir?: string) => {
    const env = await createTestEnvironment({ services: [subscriptionLifecycle], startTimeMs: START_MS, alwaysReplay, logLevel: "error", ...(dataDir ? { dataDir } : {}) });
    billing.clock = () => env.now();
    try {
      await test(env);
    } finally {
      await env.close();
    }
  };
  const subscribe = (env: TestEnvironment, name: string) => env.client.workflowSendClient(subscriptionLifecycle, name).run(pro);
  const subscriber = (env: TestEnvironment, name: string) => env.client.workflowClient(subscriptionLifecycle, name);
  const chargedAt = (name: string) => billing.charges.filter((c) => c.subscription === name).map((c) => c.atMs - START_MS);
  const declinedAt = (name: string) => billing.declines.filter((d) => d.subscription === name).map((d) => d.atMs - START_MS);

  it("charges one renewal every 30 days for five years, each on its day", async () => {
    await withEnv(async (env) => {
      await subscribe(env, "five-years");
      await env.advanceTime({ days: 5 * 365 });
      const periods = Math.floor((5 * 365) / BILLING_PERIOD_DAYS);
      expect(periods).toBe(60);
      expect(chargedAt("five-years")).toEqual(Array.from({ length: periods }, (_, i) => (i + 1) * PERIOD_MS));
      expect(billing.charges.map((c) => c.period)).toEqual(Array.from({ length: periods }, (_, i) => i + 1));
      expect(await subscriber(env, "five-years").status()).toEqual({ state: "active", plan: "pro", renewals: periods, declines: 0 });
    });
  });

  it("retries a declined renewal once a day through the 7-day grace period, then cancels", async () => {
    await withEnv(async (env) => {
      await subscribe(env, "expired");
      await env.advanceTime({ days: 2 * BILLING_PERIOD_DAYS });
      billing.declineCard("expired");
      await env.advanceTime({ days: BILLING_PERIOD_DAYS + 3 });
      expect(await subscriber(env, "expired").status()).toEqual({ state: "past-due", plan: "pro", renewals: 2, declines: 4 });
      await env.advanceTime({ days: 365 });
      const due = 3 * PERIOD_MS;
      expect(declinedAt("expired")).toEqual(Array.from({ length: GRACE_PERIOD_DAYS + 1 }, (_, day) => due + day * DAY_MS));
      expect(chargedAt("expired")).toEqual([PERIOD_MS, 2 * PERIOD_MS]);
      const ended = { state: "cancelled", plan: "pro", renewals: 2, declines: GRACE_PERIOD_DAYS + 1, cancelledBecause: "payment failed" };
      expect(await subscriber(env, "expired").run(pro)).toEqual(ended);
      expect(await subscriber(env, "expired").status()).toEqual(ended);
    });
  });

  it("charges a renewal on the day the card is fixed within the grace period, and bills from then on", async () => {
    await withEnv(async (env) => {
      await subscribe(env, "fixed");
      billing.declineCard("fixed");
      await env.advanceTime({ days: BILLING_PERIOD_DAYS + 2 });
      billing.acceptCard("fixed");
      await env.advanceTime({ days: 2 * BILLING_PERIOD_DAYS });
      expect(declinedAt("fixed")).toEqual([PERIOD_MS, PERIOD_MS + DAY_MS, PERIOD_MS + 2 * DAY_MS]);
      const fixedAt = PERIOD_MS + 3 * DAY_MS;
      expect(chargedAt("fixed")).toEqual([fixedAt, fixedAt + PERIOD_MS]);
      expect(await subscriber(env, "fixed").status()).toEqual({ state: "active", plan: "pro", renewals: 2, declines: 0 });
    });
  });

  it("ends at the end of the paid period when the user cancels, without charging again", async () => {
    await withEnv(async (env) => {
      await subscribe(env, "leaving");
      await env.advanceTime({ days: 400 });
      await subscriber(env, "leaving").cancel("too expensive");
      await subscriber(env, "leaving").cancel("changed my mind"); // the first resolution stays
      expect(await subscriber(env, "leaving").status()).toEqual({ state: "active", plan: "pro", renewals: 13, declines: 0, cancelRequested: "too expensive" });
      await env.advanceTime({ days: 3 * 365 });
      const ended = { state: "cancelled", plan: "pro", renewals: 13, declines: 0, cancelledBecause: "user: too expensive" };
      expect(await subscriber(env, "leaving").run(pro)).toEqual(ended);
      expect(chargedAt("leaving")).toHaveLength(13);
    });
  });

  it("ends the next day when the user cancels during the grace period", async () => {
    await withEnv(async (env) => {
      await subscribe(env, "past-due");
      billing.declineCard("past-due");
      await env.advanceTime({ days: BILLING_PERIOD_DAYS + 1 });
      await subscriber(env, "past-due").cancel("card lost");
      await env.advanceTime({ days: 1 });
      expect(await subscriber(env, "past-due").run(pro)).toEqual({ state: "cancelled", plan: "pro", renewals: 0, declines: 2, cancelledBecause: "user: card lost" });
      expect(declinedAt("past-due")).toEqual([PERIOD_MS, PERIOD_MS + DAY_MS]);
    });
  });

  it("resumes mid-sleep after the host restarts on its data dir, and never charges a renewal twice", async () => {
    const dataDir = tempDir();
    try {
      let stoppedAtMs = 0;
      await withEnv(async (env) => {
        await subscribe(env, "restarted");
        await env.advanceTime({ days: 13 * BILLING_PERIOD_DAYS + 11 });
        stoppedAtMs = env.now();
      }, dataDir);
      expect(chargedAt("restarted")).toHaveLength(13);
      const env = await createTestEnvironment({ services: [subscriptionLifecycle], startTimeMs: stoppedAtMs, alwaysReplay, logLevel: "error", dataDir });
      billing.clock = () => env.now();
      try {
        await env.advanceTime({ days: 11 * BILLING_PERIOD_DAYS - 11 });
        expect(chargedAt("restarted")).toEqual(Array.from({ length: 24 }, (_, i) => (i + 1) * PERIOD_MS));
        expect(await subscriber(env, "restarted").status()).toEqual({ state: "active", plan: "pro", renewals: 24, declines: 0 });
      } finally {
        await env.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
