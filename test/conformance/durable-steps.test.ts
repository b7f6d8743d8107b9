import pino from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { TerminalError } from "cairn";
import { durableSeen, stepService, steps } from "../fixtures/durable.js";
import { eventually } from "../helpers/host.js";
import { terminalError } from "../helpers/expect.js";
import { durableModes, useMode } from "../helpers/modes.js";

interface Line {
  level: number;
  msg: string;
  err?: { message?: string; type?: string };
}

describe.each(durableModes)("$label", (mode) => {
  const cairn = useMode(mode);
  const h = cairn.sharedHost({ services: [steps, stepService], host: { partitions: 4, retryPolicy: { initialIntervalMs: 10, maxIntervalMs: 50 } } });

  beforeEach(() => durableSeen.reset());

  describe("ctx.run", () => {
    it("runs each committed step once while the handler is retried after it", async () => {
      durableSeen.failAfterStep.set("two", 2); // once after step a, once after step b
      expect(await h.client.objectClient(steps, "two").twoSteps()).toEqual({ a: 1, b: 1 });
      expect(durableSeen.stepRuns.get("two:a")).toBe(1);
      expect(durableSeen.stepRuns.get("two:b")).toBe(1);
      // Each replay (after a crash, or forced at every suspension point) runs the handler again.
      if (mode.alwaysReplay) expect(durableSeen.attempts.get("two:twoSteps")).toBeGreaterThan(3);
      else expect(durableSeen.attempts.get("two:twoSteps")).toBe(3);
    });

    it("replays a state read from the journal: a write before a step is applied once", async () => {
      durableSeen.failAfterStep.set("inc", 1);
      expect(await h.client.objectClient(steps, "inc").incrementThenStep()).toBe(1);
      expect(await h.client.objectClient(steps, "inc").n()).toBe(1);
      expect(durableSeen.stepRuns.get("inc:after-write")).toBe(1);
      // The send made before the step left with the step's commit, once.
      expect(await eventually(async () => (await h.client.objectClient(steps, "inc-sent").records()).length > 0)).toBe(true);
      await h.client.objectClient(steps, "inc-sent").record("marker");
      expect(await h.client.objectClient(steps, "inc-sent").records()).toEqual([1, "marker"]);
    });

    it("retries a step under its own policy, and fails it with a TerminalError carrying the last cause", async () => {
      expect(await h.client.objectClient(steps, "flaky-ok").flakyStep({ times: 2, maxAttempts: 5 })).toBe(3);
      const error = await terminalError(h.client.objectClient(steps, "flaky-out").flakyStep({ times: 10, maxAttempts: 3 }));
      expect(error.message).toBe('Steps.flakyStep: ctx.run("flaky"): failed after 3 attempts: Error: flaky try 3');
      expect(durableSeen.stepRuns.get("flaky-out:flaky")).toBe(3);
    });

    it("fails a step at once on a non-retryable error class, records the failure, and replays it", async () => {
      durableSeen.failAfterStep.set("declined", 1);
      expect(await h.client.objectClient(steps, "declined").declinedStep()).toBe("caught TerminalError: Steps.declinedStep: ctx.run(\"charge\"): CardDeclinedError: card declined");
      expect(durableSeen.stepRuns.get("declined:charge")).toBe(1);
    });

    it("runs steps started together in parallel, each once, and replays them", async () => {
      durableSeen.failAfterStep.set("par", 1);
      expect(await h.client.objectClient(steps, "par").parallel()).toEqual([1, 1]);
      expect(durableSeen.stepRuns.get("par:x")).toBe(1);
      expect(durableSeen.stepRuns.get("par:y")).toBe(1);
    });

    it("journals a service's steps too", async () => {
      durableSeen.failAfterStep.set("svc", 1);
      expect(await h.client.serviceClient(stepService).once("svc")).toBe(1);
      expect(durableSeen.stepRuns.get("svc:service-step")).toBe(1);
    });

    it("gives a replay the time and random values the first attempt saw", async () => {
      durableSeen.failAfterStep.set("det", 1);
      const result = await h.client.objectClient(steps, "det").deterministic();
      const [first, second] = durableSeen.saw.get("det") ?? [];
      expect(second).toEqual(first);
      expect(result).toEqual(first);
      expect(String((first ?? [])[2])).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });
  });

  describe("timeouts", () => {
    it("refuses every action of an attempt that ran past timeoutMs: nothing it does commits", async () => {
      const error = await terminalError(h.client.objectClient(steps, "late").lateWriter());
      expect(error.message).toMatch(/^Steps\.lateWriter: failed after 2 attempts: AttemptTimeoutError/);
      expect(await eventually(() => (durableSeen.saw.get("late")?.length ?? 0) === 2, 5000)).toBe(true);
      for (const [message] of durableSeen.saw.get("late") ?? []) expect(String(message)).toContain("this attempt has ended");
      expect(await h.client.objectClient(steps, "late").keys()).toEqual([]);
    });
  });

  describe("sleeps and suspension", () => {
    it("commits the state set before a sleep: a shared handler sees it while the handler sleeps", async () => {
      const done = h.client.objectClient(steps, "sleeper").sleepy(800);
      expect(await eventually(async () => (await h.client.objectClient(steps, "sleeper").status()) === "sleeping", 5000)).toBe(true);
      expect(await done).toBe("awake");
      expect(await h.client.objectClient(steps, "sleeper").status()).toBe("awake");
    });

    it("holds the key while it sleeps: the next exclusive call of the key runs after it", async () => {
      const startedAt = Date.now();
      const sleeping = h.client.objectClient(steps, "held").sleepy(700);
      const next = h.client.objectClient(steps, "held").record("after");
      await next;
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(650);
      expect(await sleeping).toBe("awake");
    });

    it("does not let a key waiting on its sleep hold back the partition's other keys", async () => {
      const own = await cairn.start({ services: [steps], host: { partitions: 1, maxInFlightPerPartition: 4 } });
      const sleeper = own.client.objectClient(steps, "stuck");
      const sleeping = sleeper.sleepy(3000);
      // More messages for the held key than the partition takes unsettled at a time.
      const queued = Array.from({ length: 12 }, (_, i) => own.client.objectSendClient(steps, "stuck").record(i));
      await Promise.all(queued);
      await own.client.objectClient(steps, "free").record("free");
      expect(await own.client.objectClient(steps, "stuck").status(), "another key waited for the held one").toBe("sleeping");
      expect(await sleeping).toBe("awake");
      expect(await eventually(async () => (await own.client.objectClient(steps, "stuck").records()).length === 12, 10_000)).toBe(true);
      expect(await own.client.objectClient(steps, "stuck").records()).toEqual(Array.from({ length: 12 }, (_, i) => i));
      await own.close();
    });

    it("resumes a sleeping invocation after a restart: its step does not run again, and it wakes after its time", async () => {
      const own = await cairn.start({ services: [steps], host: { partitions: 4 } });
      const sentAt = Date.now();
      await own.client.objectSendClient(steps, "restarted").sleepy(1500);
      expect(await eventually(async () => (await own.client.objectClient(steps, "restarted").status()) === "sleeping", 5000)).toBe(true);
      await own.restart();
      expect(await eventually(async () => (await own.client.objectClient(steps, "restarted").status()) === "awake", 10_000)).toBe(true);
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1500);
      expect(durableSeen.stepRuns.get("restarted:before-sleep")).toBe(1);
      await own.close();
    });
  });

  describe("retries", () => {
    it("keeps a backoff of a second or more in the tables: maxAttempts counts attempts across a restart", async () => {
      const own = await cairn.start({ services: [steps], host: { partitions: 4 } });
      await own.client.objectSendClient(steps, "slow").slowRetry();
      expect(await eventually(() => durableSeen.attempts.get("slow:slowRetry") === 1, 5000)).toBe(true);
      await own.restart();
      // The second attempt is the last: after it, the invocation fails, and the key serves again.
      expect(await eventually(() => durableSeen.attempts.get("slow:slowRetry") === 2, 10_000)).toBe(true);
      await own.client.objectClient(steps, "slow").record("after");
      expect(await own.client.objectClient(steps, "slow").records()).toEqual(["after"]);
      expect(durableSeen.attempts.get("slow:slowRetry")).toBe(2);
      await own.close();
    });
  });

  describe("replay that diverges from the journal", () => {
    it("fails the attempt with an error naming the index and both steps, logged at error, and resumes once the code matches again", async () => {
      const lines: Line[] = [];
      const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
      const own = await cairn.start({ services: [steps], host: { partitions: 4, logger, retryPolicy: { initialIntervalMs: 20, maxIntervalMs: 50 } } });
      // Fails after its step until told otherwise: retried meanwhile.
      durableSeen.failAfterStep.set("div", Number.MAX_SAFE_INTEGER);
      durableSeen.diverge.clear();
      const call = own.client.objectClient(steps, "div").diverging();
      // The first attempt records step "a" and fails; from now on the handler calls step "b" there.
      expect(await eventually(() => durableSeen.stepRuns.get("div:a") === 1, 5000)).toBe(true);
      durableSeen.diverge.add("div");
      const mismatch = (l: Line) => l.err?.type === "JournalMismatchError";
      expect(await eventually(() => lines.some(mismatch), 5000)).toBe(true);
      const line = lines.find(mismatch);
      expect(line?.level).toBe(50);
      expect(line?.err?.message).toContain('at entry 0: it recorded ctx.run("a"), and now made ctx.run("b")');
      expect(durableSeen.stepRuns.get("div:b")).toBeUndefined();
      durableSeen.diverge.delete("div");
      durableSeen.failAfterStep.set("div", 0);
      expect(await call).toBe("a");
      expect(durableSeen.stepRuns.get("div:a")).toBe(1);
      await own.close();
    });
  });

  it("keeps answering other keys while one fails terminally", async () => {
    await expect(h.client.objectClient(steps, "f").fail()).rejects.toBeInstanceOf(TerminalError);
    expect(await h.client.objectClient(steps, "f2").n()).toBe(0);
  });
});
