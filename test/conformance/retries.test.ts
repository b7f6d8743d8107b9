import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { observed, probe } from "../fixtures/probe.js";
import { terminalError } from "../helpers/expect.js";
import { eventually, tempDir } from "../helpers/host.js";
import { modes, useMode } from "../helpers/modes.js";

describe.each(modes)("$label", (mode) => {
  const cairn = useMode(mode);
  const h = cairn.sharedHost({ services: [probe], host: { partitions: 4 } });

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

  it("closes without waiting out an invocation that is backing off, and runs it at the next start", async () => {
    const own = await cairn.start({ services: [probe], host: { partitions: 4, shutdownGraceMs: 8000 } });
    const dir = tempDir();
    const input = { value: 7, ready: join(dir, "ready"), attempted: join(dir, "attempted") };
    await own.client.objectSendClient(probe, "backing-off").appendWhenReady(input);
    expect(await eventually(() => existsSync(input.attempted), 10_000)).toBe(true);
    const closing = performance.now();
    await own.host.close();
    const tookMs = performance.now() - closing;
    // The grace period is for invocations that are running; one waiting to retry is run again later.
    expect(tookMs, `close() took ${Math.round(tookMs)} ms`).toBeLessThan(4000);
    writeFileSync(input.ready, "");
    await own.restart();
    expect(await eventually(async () => (await own.client.objectClient(probe, "backing-off").list()).length > 0, 15_000)).toBe(true);
    expect(await own.client.objectClient(probe, "backing-off").list()).toEqual([7]);
    await own.close();
  });
});
