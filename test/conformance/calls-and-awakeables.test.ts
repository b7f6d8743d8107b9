import { beforeEach, describe, expect, it } from "vitest";
import { TerminalError } from "cairn";
import { account, caller, callingService, callsSeen } from "../fixtures/calls.js";
import { eventually } from "../helpers/host.js";
import { terminalError } from "../helpers/expect.js";
import { durableModes, useMode } from "../helpers/modes.js";

describe.each(durableModes)("$label", (mode) => {
  const cairn = useMode(mode);
  const services = [account, caller, callingService];
  const h = cairn.sharedHost({ services, host: { partitions: 4, retryPolicy: { initialIntervalMs: 10, maxIntervalMs: 50 } } });

  beforeEach(() => callsSeen.reset());

  describe("calls between handlers", () => {
    it("calls two objects in parallel and replays the calls without making them again", async () => {
      callsSeen.failAfterCalls.set("c1", 1);
      expect(await h.client.objectClient(caller, "c1").chargeTwo(["a1", "a2"])).toEqual([1, 1]);
      expect(callsSeen.runs.get("a1:charge")).toBe(1);
      expect(callsSeen.runs.get("a2:charge")).toBe(1);
      expect(await h.client.objectClient(account, "a1").balance()).toBe(1);
    });

    it("hands a callee's TerminalError to the caller as a TerminalError with its message and code", async () => {
      expect(await h.client.objectClient(caller, "c2").catchDeclined("broke")).toEqual({ name: "TerminalError", message: "insufficient funds", code: 402, terminal: true });
      const error = await terminalError(h.client.objectClient(caller, "c3").passDeclined("broke"));
      expect([error.message, error.errorCode]).toEqual(["insufficient funds", 402]);
    });

    it("goes on after a call to further suspension points (a replay hands the call's outcome over)", async () => {
      expect(await h.client.objectClient(caller, "then-sleep").callThenSleep("then-sleep-acct")).toBe(2);
      expect(callsSeen.runs.get("then-sleep-acct:charge")).toBe(1);
    });

    it("lets a service call an object", async () => {
      expect(await h.client.serviceClient(callingService).chargeVia("svc-acct")).toBe(5);
    });

    it("refuses a call to the caller's own exclusive key at once, naming the cycle", async () => {
      const error = await terminalError(h.client.objectClient(caller, "self").callSelf());
      expect(error.message).toBe(
        "Caller.callSelf: a call to Caller/self/noop would wait forever: it is a call cycle (Caller/self → Caller/self), and Caller/self is held higher up the same call chain; use a one-way send, or a shared handler",
      );
      expect(error.errorCode).toBe(409);
    });

    it("refuses a call back into a key held two hops up the chain", async () => {
      const error = await terminalError(h.client.objectClient(caller, "around").callAround("via"));
      expect(error.message).toContain("it is a call cycle (Caller/around → Account/via → Caller/around)");
      // The key is not left held: it answers at once.
      expect(await h.client.objectClient(caller, "around").noop()).toBe("noop");
    });

    it("lets a handler call its own key's shared handler", async () => {
      expect(await h.client.objectClient(caller, "shared-self").callSelfShared()).toBe("none");
    });

    it("keeps a caller waiting on a sleeping callee across a restart: the callee runs once, the caller gets its result", async () => {
      const own = await cairn.start({ services, host: { partitions: 4 } });
      await own.client.objectSendClient(caller, "waiter").waitSlow({ account: "sleepy-acct", ms: 1500, value: "late" });
      expect(await eventually(() => callsSeen.runs.get("sleepy-acct:slow-echo") === 1, 5000)).toBe(true);
      await own.restart();
      expect(await eventually(async () => (await own.client.objectClient(caller, "waiter").got()) === "late", 15_000)).toBe(true);
      expect(callsSeen.runs.get("sleepy-acct:slow-echo")).toBe(1);
      await own.close();
    });

    it("gives every caller with the same idempotency key the one result of one callee, also while it runs", async () => {
      const input = { account: "shared-acct", ms: 600, value: "once", idempotencyKey: "k-1" };
      const [a, b] = await Promise.all([h.client.objectClient(caller, "w1").waitSlow(input), h.client.objectClient(caller, "w2").waitSlow(input)]);
      expect([a, b]).toEqual(["once", "once"]);
      expect(callsSeen.runs.get("shared-acct:slow-echo")).toBe(1);
    });
  });

  describe("awakeables", () => {
    const published = async (key: string): Promise<string> => {
      let id = "none";
      expect(await eventually(async () => (id = await h.client.objectClient(caller, key).peek()) !== "none", 5000)).toBe(true);
      return id;
    };

    it("resumes a handler when a client resolves its awakeable", async () => {
      const waiting = h.client.objectClient(caller, "awk-1").awaitAwakeable();
      await h.client.resolveAwakeable(await published("awk-1"), { ok: true });
      expect(await waiting).toEqual({ ok: true });
    });

    it("throws a TerminalError with the reason in a handler whose awakeable is rejected", async () => {
      const waiting = h.client.objectClient(caller, "awk-2").awaitAwakeable();
      await h.client.rejectAwakeable(await published("awk-2"), "no thanks");
      expect(await waiting).toEqual({ rejected: "no thanks", terminal: true });
    });

    it("resumes a handler whose awakeable another handler resolves, once (a second completion changes nothing)", async () => {
      const waiting = h.client.objectClient(caller, "awk-3").awaitAwakeable();
      const id = await published("awk-3");
      await h.client.objectClient(caller, "resolver").resolveOther({ id, value: { ok: true } });
      await h.client.resolveAwakeable(id, { ok: false });
      expect(await waiting).toEqual({ ok: true });
    });

    it("refuses an id that is not an awakeable's", async () => {
      await expect(h.client.resolveAwakeable("awk_nonsense", 1)).rejects.toBeInstanceOf(TerminalError);
      await expect(h.client.resolveAwakeable("inv_x", 1)).rejects.toThrow(/is not an awakeable id/);
    });
  });
});
