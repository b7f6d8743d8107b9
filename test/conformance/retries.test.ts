import { beforeEach, describe, expect, it } from "vitest";
import { observed, probe } from "../fixtures/probe.js";
import { terminalError } from "../helpers/expect.js";
import { modes, useMode } from "../helpers/modes.js";

describe.each(modes)("$label", (mode) => {
  const h = useMode(mode).sharedHost({ services: [probe], host: { partitions: 4 } });

  beforeEach(() => observed.reset());

  it("retries a handler that throws a plain Error twice, then commits its effects once", async () => {
    const result = await h.client.objectClient(probe, "flaky").flaky();
    expect(result).toEqual({ attempt: 3, n: 1 });
    expect(observed.runs.get("flaky:flaky")).toBe(3);
    expect(await h.client.objectClient(probe, "flaky").n()).toBe(1);
  });

  it("does not retry a TerminalError: one run, and the caller gets its message and code", async () => {
    const error = await terminalError(h.client.objectClient(probe, "refuse").refuse());
    expect(error.message).toBe("refused for good");
    expect(error.errorCode).toBe(422);
    // The key is free again at once (no backoff behind it), and the handler ran exactly once.
    await h.client.objectClient(probe, "refuse").append(1);
    expect(observed.runs.get("refuse:refuse")).toBe(1);
  });

  it("fails with a TerminalError carrying the last cause once maxAttempts are used", async () => {
    expect((await terminalError(h.client.objectClient(probe, "exhaust").alwaysFails())).message).toBe(
      "Probe.alwaysFails: failed after 3 attempts: Error: still broken",
    );
    expect(observed.runs.get("alwaysFails:exhaust")).toBe(3);
  });

  it("retries an attempt that runs past timeoutMs, and fails once the attempts are used", async () => {
    expect(await h.client.objectClient(probe, "slow-first").slowFirst()).toBe(2);
    expect((await terminalError(h.client.objectClient(probe, "always-slow").alwaysSlow())).message).toBe(
      "Probe.alwaysSlow: failed after 2 attempts: AttemptTimeoutError: Probe.alwaysSlow: the attempt ran past its timeoutMs of 50 ms",
    );
  });
});
