import pino from "pino";
import { describe, expect, it } from "vitest";
import { TerminalError } from "cairn";
import { durableSeen, steps } from "../fixtures/durable.js";
import { probe } from "../fixtures/probe.js";
import { modes, useMode } from "../helpers/modes.js";

interface Line {
  level: number;
  msg: string;
  object?: string;
  key?: string;
  handler?: string;
  invocationId?: string;
  outcome?: string;
  tookMs?: number;
}

describe.each(modes)("$label", (mode) => {
  const cairn = useMode(mode);

  it("logs one line per invocation at debug level, with its target, outcome and time", async () => {
    const lines: Line[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
    const h = await cairn.start({ services: [probe], host: { partitions: 4, logger } });
    await h.client.objectClient(probe, "logged").append(1);
    await expect(h.client.objectClient(probe, "logged").refuse()).rejects.toBeInstanceOf(TerminalError);
    const finished = lines.filter((l) => l.msg === "invocation finished" && l.key === "logged");
    expect(finished.map((l) => [l.object, l.handler, l.outcome])).toEqual([
      ["Probe", "append", "ok"],
      ["Probe", "refuse", "TerminalError"],
    ]);
    for (const line of finished) {
      expect(line.invocationId).toMatch(/^inv_/);
      expect(typeof line.tookMs).toBe("number");
    }
  });

  it("keeps ctx.log silent while an attempt replays its journal", async () => {
    const lines: Line[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
    const h = await cairn.start({ services: [steps], host: { partitions: 4, logger, retryPolicy: { initialIntervalMs: 10 } } });
    durableSeen.failAfterStep.set("log-replay", 1);
    await h.client.objectClient(steps, "log-replay").logged();
    const mine = lines.filter((l) => l.key === "log-replay");
    // Two attempts: the second replays the step, silently up to it, and logs again after it.
    expect(mine.filter((l) => l.msg === "before the step")).toHaveLength(1);
    expect(mine.filter((l) => l.msg === "after the step")).toHaveLength(2);
  });
});
