// Promise.race over durable waits (met while writing examples/subscription-lifecycle.ts): the loser of
// a race must not make the host look idle while the winner goes on, and a replay must pick the winner
// the first run picked. Both failed before the fixes in c739f8d and e515a0d.
import { describe, expect, it } from "vitest";
import { type WorkflowContext, type WorkflowSharedContext, workflow } from "cairn";
import { createTestEnvironment } from "cairn/testing";

const DAY_MS = 86_400_000;
const seen: string[] = [];

/** Three days, each a sleep raced against a stop signal, with a step after each race. */
const racer = workflow({
  name: "Racer",
  handlers: {
    run: async (ctx: WorkflowContext) => {
      for (let day = 1; day <= 3; day++) {
        const woke = await Promise.race([ctx.sleep(DAY_MS).then(() => "slept"), ctx.promise<string>("stop").get().then(() => "stopped")]);
        await ctx.run(`after-${day}`, () => void seen.push(`${day}:${woke}`));
        if (woke === "stopped") return `stopped on day ${day}`;
      }
      return "done";
    },
    stop: async (ctx: WorkflowSharedContext) => ctx.promise<string>("stop").resolve("now"),
  },
});

/** The same with a race of two sleeps: the loser is a timer that fires later. */
const sleepRacer = workflow({
  name: "SleepRacer",
  handlers: {
    run: async (ctx: WorkflowContext) => {
      for (let day = 1; day <= 3; day++) {
        await Promise.race([ctx.sleep(DAY_MS), ctx.sleep(100 * DAY_MS)]);
        await ctx.run(`after-${day}`, () => void seen.push(`${day}`));
      }
      return "done";
    },
  },
});

describe.each([false, true])("Promise.race over durable waits (alwaysReplay: %s)", (alwaysReplay) => {
  const env = () => createTestEnvironment({ services: [racer, sleepRacer], alwaysReplay, logLevel: "error" });

  // The race's losing wait stays parked (processor.parked counts it for the lane), so the lane
  // counts as waiting on the clock while the winner goes on: host.idle() resolves early, and
  // advanceTime moves the clock past the next sleep before that sleep is set.
  it("fires every sleep due within one advanceTime after a race of two sleeps", async () => {
    seen.length = 0;
    const e = await env();
    try {
      await e.client.workflowSendClient(sleepRacer, "a").run();
      await e.advanceTime({ days: 3 });
      expect(seen).toEqual(["1", "2", "3"]);
    } finally {
      await e.close();
    }
  });

  it("fires every sleep due within one advanceTime after a race of a sleep and a promise", async () => {
    seen.length = 0;
    const e = await env();
    try {
      await e.client.workflowSendClient(racer, "b").run();
      await e.advanceTime({ days: 3 });
      expect(seen).toEqual(["1:slept", "2:slept", "3:slept"]);
    } finally {
      await e.close();
    }
  });

  // On replay, day 1's sleep is past and the promise, resolved since, is in the promises table: both
  // could win. The journal records how far the handler had got when each wait ended, so the replay
  // hands them over in that order and the sleep wins again (the step after it has the same name
  // either way: a wrong winner would raise no JournalMismatchError, it would silently branch).
  it.skipIf(!alwaysReplay)("replays a race the sleep won as the sleep's, after the promise was resolved", async () => {
    seen.length = 0;
    const e = await env();
    try {
      await e.client.workflowSendClient(racer, "c").run();
      await e.advanceTime({ days: 1 });
      expect(seen).toEqual(["1:slept"]);
      await e.client.workflowClient(racer, "c").stop();
      expect(await e.client.workflowClient(racer, "c").run()).toBe("stopped on day 2");
    } finally {
      await e.close();
    }
  });
});
