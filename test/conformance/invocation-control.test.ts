import { setTimeout as sleep } from "node:timers/promises";
import { beforeEach, describe, expect, it } from "vitest";
import { CancelledError, type ObjectContext, TerminalError, handlers, object } from "cairn";
import { createTestEnvironment } from "cairn/testing";
import { controlSeen, ctlCallee, ctlOrder } from "../fixtures/control.js";
import { eventually, tempDir } from "../helpers/host.js";
import { terminalError } from "../helpers/expect.js";
import { modes, useMode } from "../helpers/modes.js";

/** The invocation id a fixture recorded under `what`, once it ran. */
async function idOf(what: string): Promise<string> {
  expect(await eventually(() => controlSeen.ids.has(what))).toBe(true);
  return controlSeen.ids.get(what) as string;
}

describe.each(modes)("$label", (mode) => {
  const cairn = useMode(mode);
  const h = cairn.sharedHost({
    services: [ctlOrder, ctlCallee],
    host: { partitions: 4, retryPolicy: { initialIntervalMs: 5, maxIntervalMs: 20, maxAttempts: 4 } },
  });

  beforeEach(() => controlSeen.reset());

  describe("pause and resume", () => {
    it("pauses an invocation whose retries ran out: it holds its key until resumed, then runs again with a fresh budget", async () => {
      const call = h.client.objectClient(ctlOrder, "p1").broken();
      const id = await idOf("broken:p1");
      expect(await eventually(() => controlSeen.attempts.get("broken:p1") === 2)).toBe(true);
      // Paused: no third attempt, and the next call of its key waits behind it.
      const queued = h.client.objectClient(ctlOrder, "p1").ping();
      await sleep(300);
      expect(controlSeen.attempts.get("broken:p1")).toBe(2);
      expect(controlSeen.attempts.get("ping:p1")).toBeUndefined();
      // Other keys keep serving.
      expect(await h.client.objectClient(ctlOrder, "p1-other").ping()).toBe("pong");
      controlSeen.fixed.add("p1");
      await h.client.resume(id);
      expect(await call).toBe("fixed");
      expect(await queued).toBe("pong");
      expect(controlSeen.attempts.get("broken:p1")).toBe(3);
    });

    it("pauses an invocation whose step ran out of the host's attempts, and resume runs the step again", async () => {
      const call = h.client.objectClient(ctlOrder, "p2").brokenStep();
      const id = await idOf("brokenStep:p2");
      expect(await eventually(() => controlSeen.attempts.get("brokenStep:p2") === 4)).toBe(true);
      await sleep(300);
      expect(controlSeen.attempts.get("brokenStep:p2")).toBe(4);
      controlSeen.fixed.add("p2");
      await h.client.resume(id);
      expect(await call).toBe("charged");
    });

    it("keeps an invocation paused across a restart; resume after it runs it", async () => {
      h.client.objectClient(ctlOrder, "p3").broken().catch(() => undefined);
      const id = await idOf("broken:p3");
      expect(await eventually(() => controlSeen.attempts.get("broken:p3") === 2)).toBe(true);
      await sleep(100); // its paused row commits
      await h.restart();
      await sleep(300);
      expect(controlSeen.attempts.get("broken:p3")).toBe(2);
      controlSeen.fixed.add("p3");
      await h.client.resume(id);
      expect(await eventually(() => controlSeen.attempts.get("broken:p3") === 3)).toBe(true);
      // Its key is free again.
      expect(await h.client.objectClient(ctlOrder, "p3").ping()).toBe("pong");
    });
  });

  describe("cancel", () => {
    it("throws a CancelledError where the handler waits: its compensation runs, and its caller gets the CancelledError", async () => {
      const call = h.client.objectClient(ctlOrder, "c1").book();
      const id = await idOf("book:c1");
      expect(await eventually(() => controlSeen.events.includes("reserve:c1"))).toBe(true);
      await sleep(100); // sleeping now
      await h.client.cancel(id);
      const error = await terminalError(call);
      expect(error).toBeInstanceOf(CancelledError);
      expect(error.errorCode).toBe(409);
      expect(error.message).toContain("was cancelled");
      expect(controlSeen.events.filter((e) => e.endsWith(":c1"))).toEqual(["reserve:c1", "release:c1"]);
      expect(await h.client.objectClient(ctlOrder, "c1").status()).toBe("cancelled");
      // Cancelled once: the key takes the next call.
      expect(await h.client.objectClient(ctlOrder, "c1").ping()).toBe("pong");
    });

    it("passes the cancellation on to the call the invocation waits on", async () => {
      const call = h.client.objectClient(ctlOrder, "c2").callAndWait();
      const caller = await idOf("caller:c2");
      await idOf("callee:c2");
      await sleep(100); // both wait now
      await h.client.cancel(caller);
      expect(await terminalError(call)).toBeInstanceOf(CancelledError);
      expect(await eventually(() => controlSeen.events.includes("callee-caught:c2:CancelledError"))).toBe(true);
      expect(controlSeen.events).toContain("caller-caught:c2:CancelledError");
      // The callee ended too: its key takes the next call.
      expect(await h.client.objectClient(ctlCallee, "c2").ping()).toBe("pong");
    });

    it("cancels a paused invocation: the next attempt sees the CancelledError at once", async () => {
      const call = h.client.objectClient(ctlOrder, "c3").broken();
      const id = await idOf("broken:c3");
      expect(await eventually(() => controlSeen.attempts.get("broken:c3") === 2)).toBe(true);
      await h.client.cancel(id);
      expect(await terminalError(call)).toBeInstanceOf(CancelledError);
      expect(await h.client.objectClient(ctlOrder, "c3").ping()).toBe("pong");
    });
  });

  describe("a cancel or kill racing retries", () => {
    it("keeps a cancel whose compensation fails once: the compensation runs again and the invocation ends", async () => {
      const call = h.client.objectClient(ctlOrder, "r1").fragileCompensation();
      const id = await idOf("fragile:r1");
      await sleep(100); // sleeping now
      await h.client.cancel(id);
      expect(await terminalError(call)).toBeInstanceOf(CancelledError);
      expect(controlSeen.attempts.get("compensate:r1")).toBe(2);
      expect(await h.client.objectClient(ctlOrder, "r1").status()).toBe("compensated after CancelledError");
    });

    it("runs no attempt after a kill that came while the invocation backed off", async () => {
      const call = h.client.objectClient(ctlOrder, "r2").chargeThenFail();
      const id = await idOf("chargeThenFail:r2");
      expect(await eventually(() => controlSeen.attempts.get("chargeThenFail:r2") === 1)).toBe(true);
      await h.client.kill(id);
      expect(await terminalError(call)).toBeInstanceOf(CancelledError);
      await sleep(800); // two backoffs
      expect(controlSeen.attempts.get("chargeThenFail:r2")).toBe(1);
      expect(controlSeen.attempts.get("charge:r2")).toBe(1);
    });
  });

  describe("kill", () => {
    it("ends the invocation at once without compensation, releases its key, and kills the call it waits on", async () => {
      const call = h.client.objectClient(ctlOrder, "k1").callAndWait();
      const caller = await idOf("caller:k1");
      await idOf("callee:k1");
      await sleep(100);
      await h.client.kill(caller);
      const error = await terminalError(call);
      expect(error).toBeInstanceOf(CancelledError);
      expect(error.message).toContain("was killed");
      // No compensation: the handler's catch never ran.
      expect(controlSeen.events).not.toContain("caller-caught:k1:CancelledError");
      expect(await h.client.objectClient(ctlOrder, "k1").ping()).toBe("pong");
      // The callee was killed too: its key is free (it waited forever otherwise).
      expect(await h.client.objectClient(ctlCallee, "k1").ping()).toBe("pong");
      expect(controlSeen.events).not.toContain("callee-caught:k1:CancelledError");
    });

    it("kills a paused invocation and the one queued behind it then runs", async () => {
      const call = h.client.objectClient(ctlOrder, "k2").broken();
      const id = await idOf("broken:k2");
      expect(await eventually(() => controlSeen.attempts.get("broken:k2") === 2)).toBe(true);
      const queued = h.client.objectClient(ctlOrder, "k2").ping();
      await h.client.kill(id);
      expect(await terminalError(call)).toBeInstanceOf(CancelledError);
      expect(await queued).toBe("pong");
    });
  });

  it("refuses a control command for an id that is not live (404), and one that is not an id (400)", async () => {
    const done = await h.client.objectSendClient(ctlOrder, "n1").ping();
    await h.client.objectClient(ctlOrder, "n1").ping();
    const notLive = await terminalError(h.client.cancel(done.invocationId));
    expect(notLive.errorCode).toBe(404);
    expect(notLive.message).toContain("no live invocation");
    const bad = await h.client.kill("not-an-id").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(bad).toBeInstanceOf(TerminalError);
    expect((bad as TerminalError).errorCode).toBe(400);
  });
});

describe("a kill with the test clock", () => {
  const done = new Set<string>();
  const ids = new Map<string, string>();
  const lanes = object({
    name: "CtlLanes",
    handlers: {
      broken: handlers.object.exclusive({ retryPolicy: { maxAttempts: 1 } }, async (ctx: ObjectContext) => {
        ids.set(`broken:${ctx.key}`, ctx.invocationId);
        throw new Error("always fails");
      }),
      hang: async (ctx: ObjectContext) => {
        ids.set(`hang:${ctx.key}`, ctx.invocationId);
        await ctx.run("a call that never returns", () => new Promise(() => undefined));
      },
      /** Real work of 300 ms (not a durable wait): advanceTime must wait for it. */
      slow: async (ctx: ObjectContext) => {
        await sleep(300);
        done.add(`slow:${ctx.key}`);
      },
      nap: async (ctx: ObjectContext) => {
        await ctx.sleep(1000);
        done.add(`nap:${ctx.key}`);
      },
    },
  });

  it("backs a cancelled invocation whose compensation keeps failing off as usual, then pauses it (no loop, no pile of commits)", async () => {
    let compensations = 0;
    const stubborn = object({
      name: "CtlStubborn",
      handlers: {
        run: handlers.object.exclusive({ retryPolicy: { initialIntervalMs: 60_000, maxIntervalMs: 60_000, maxAttempts: 3 } }, async (ctx: ObjectContext) => {
          ids.set(`stubborn:${ctx.key}`, ctx.invocationId);
          try {
            await ctx.sleep(86_400_000);
          } catch {
            compensations++;
            throw new Error("the compensation keeps failing");
          }
        }),
      },
    });
    const env = await createTestEnvironment({ services: [stubborn], logLevel: "silent", historyEntriesPerKey: 0 });
    try {
      env.client.objectClient(stubborn, "s").run().catch(() => undefined);
      expect(await eventually(() => ids.has("stubborn:s"))).toBe(true);
      await env.advanceTime({ ms: 1 });
      await env.client.cancel(ids.get("stubborn:s") as string);
      await sleep(500); // the clock does not move: its backoff does not end
      expect(compensations).toBe(1);
      await env.advanceTime({ minutes: 3 }); // two more attempts, each seeing the cancel again, then paused
      expect(compensations).toBe(3);
      await env.advanceTime({ hours: 1 });
      expect(compensations).toBe(3);
    } finally {
      await env.close();
    }
  });

  it("does not count a wait that ended while another goes on as running: graceful restarts do not pause it", async () => {
    let runs = 0;
    const waiter = object({
      name: "CtlWaiter",
      handlers: {
        run: async (ctx: ObjectContext) => {
          runs++;
          ids.set(`waiter:${ctx.key}`, ctx.invocationId);
          await Promise.all([ctx.sleep(1000), ctx.awakeable<string>().promise]);
        },
      },
    });
    const dataDir = tempDir();
    let env = await createTestEnvironment({ services: [waiter], logLevel: "silent", dataDir });
    try {
      env.client.objectSendClient(waiter, "w").run();
      expect(await eventually(() => runs === 1)).toBe(true);
      await env.advanceTime({ seconds: 2 }); // the sleep ends; the awakeable has not come
      for (let restart = 1; restart <= 4; restart++) {
        await env.close();
        env = await createTestEnvironment({ services: [waiter], logLevel: "silent", dataDir, startTimeMs: Date.now() + 3000 });
        expect(await eventually(() => runs === restart + 1), `after restart ${restart}`).toBe(true);
      }
    } finally {
      await env.close();
    }
  });

  it("leaves no waits or steps of the killed invocation counted for its key: the next one is waited for, and nothing hangs", async () => {
    const env = await createTestEnvironment({ services: [lanes], logLevel: "silent" });
    try {
      // A paused invocation, killed: the next one of its key is work that advanceTime waits for.
      env.client.objectClient(lanes, "a").broken().catch(() => undefined);
      expect(await eventually(() => ids.has("broken:a"))).toBe(true);
      await env.advanceTime({ ms: 1 });
      await env.client.kill(ids.get("broken:a") as string);
      void env.client.objectClient(lanes, "a").slow();
      await sleep(20);
      await env.advanceTime({ ms: 0 });
      expect(done.has("slow:a")).toBe(true);
      // A step whose function never settles, killed: the next invocation of its key sleeps, and the clock moves it.
      env.client.objectClient(lanes, "h").hang().catch(() => undefined);
      expect(await eventually(() => ids.has("hang:h"))).toBe(true);
      await env.client.kill(ids.get("hang:h") as string);
      void env.client.objectClient(lanes, "h").nap();
      await sleep(50);
      const moved = await Promise.race([env.advanceTime({ seconds: 2 }).then(() => "advanced"), sleep(5000).then(() => "hung")]);
      expect(moved).toBe("advanced");
      expect(done.has("nap:h")).toBe(true);
    } finally {
      await env.close();
    }
  });
});
