import { afterEach, describe, expect, it } from "vitest";
import { type TestEnvironment, createTestEnvironment } from "cairn/testing";
import { steps } from "./fixtures/durable.js";
import { racer } from "./fixtures/workflows.js";
import { tempDir } from "./helpers/host.js";

const DAY = 86_400_000;

describe.each([{ alwaysReplay: false }, { alwaysReplay: true }])("durable sleeps on the test clock (alwaysReplay: $alwaysReplay)", ({ alwaysReplay }) => {
  let env: TestEnvironment | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it("wakes a handler sleeping 30 days, twelve times, only as the test clock moves", async () => {
    env = await createTestEnvironment({ services: [steps], partitions: 4, alwaysReplay });
    const startedAt = env.now();
    const done = env.client.objectClient(steps, "monthly").sleepDays({ days: 30, times: 12 });
    await env.advanceTime({ days: 29 });
    expect(await env.client.objectClient(steps, "monthly").woke()).toBe(0);
    await env.advanceTime({ days: 1 });
    expect(await env.client.objectClient(steps, "monthly").woke()).toBe(1);
    const realStart = Date.now();
    await env.advanceTime({ days: 330 });
    expect(await done).toBe(startedAt + 360 * DAY);
    expect(await env.client.objectClient(steps, "monthly").woke()).toBe(12);
    console.log(`a year of 30-day sleeps: ${Date.now() - realStart} ms of real time`);
  });

  it("ends a Promise.all of two sleeps once the later one is due, within one advanceTime", async () => {
    env = await createTestEnvironment({ services: [steps], partitions: 1, alwaysReplay });
    const startedAt = env.now();
    const done = env.client.objectClient(steps, "both").sleepBoth([1, 2]);
    await env.advanceTime({ days: 3 });
    expect(await env.client.objectClient(steps, "both").woke()).toBe(1);
    expect(await done).toBe(startedAt + 2 * DAY);
  });

  it("drops the loser of a race: an awakeable that wins cancels the sleep's wake-up, and the key serves on", async () => {
    env = await createTestEnvironment({ services: [steps], partitions: 1, alwaysReplay });
    const client = env.client.objectClient(steps, "racer");
    const racing = client.raceSleep(60 * DAY);
    await env.advanceTime({ ms: 1 });
    const id = await client.awakeable();
    expect(id).toMatch(/^awk_/);
    expect(env.clock.pending(), "the sleep's wake-up").toBeGreaterThan(0);
    await env.client.resolveAwakeable(id as string, "the test");
    expect(await racing).toBe("woken by the test");
    await env.advanceTime({ ms: 1 });
    expect(env.clock.pending(), "the lost sleep's wake-up is still pending").toBe(0);
    // The key is free, and the partition is not held as waiting: the next call and advanceTime finish.
    await client.record("after");
    await env.advanceTime({ days: 61 });
    expect(await client.records()).toEqual(["after"]);
  });
});

describe("a race between durable waits, replayed", () => {
  it("has the same winner after a restart although the loser completed meanwhile", async () => {
    const dataDir = tempDir();
    let env = await createTestEnvironment({ services: [racer], partitions: 2, dataDir });
    try {
      const client = () => env.client.workflowClient(racer, "r-1");
      await env.client.workflowSendClient(racer, "r-1").run(1000);
      await env.advanceTime({ seconds: 2 }); // the sleep wins
      expect(await client().winner()).toBe("slept");
      await client().signal(); // the loser's promise resolves now, after the race was decided
      const at = env.now();
      await env.close();
      // The replay finds both waits complete: the sleep must win again, or the step after it would not match.
      env = await createTestEnvironment({ services: [racer], partitions: 2, dataDir, startTimeMs: at });
      await env.advanceTime({ ms: 1 });
      await client().release();
      expect(await client().run(0)).toBe("slept");
    } finally {
      await env.close();
    }
  });
});
