import pino from "pino";
import { describe, expect, it } from "vitest";
import { TerminalError } from "cairn";
import { durableSeen, steps } from "../fixtures/durable.js";
import { probe } from "../fixtures/probe.js";
import { controlSeen, ctlCallee, ctlOrder } from "../fixtures/control.js";
import { eventually } from "../helpers/host.js";
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
  attempt?: number;
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
    const after = mine.filter((l) => l.msg === "after the step");
    // Each line names the invocation and its attempt.
    expect(after.map((l) => [l.object, l.key, l.handler, l.attempt])).toEqual([
      ["Steps", "log-replay", "logged", 1],
      ["Steps", "log-replay", "logged", 2],
    ]);
    expect(new Set(after.map((l) => l.invocationId)).size).toBe(1);
    expect(after[0]?.invocationId).toMatch(/^inv_/);
  });

  it("says once, at error, that an invocation is paused and what to do; and once that it was killed", async () => {
    const lines: Line[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
    const h = await cairn.start({ services: [ctlOrder, ctlCallee], host: { partitions: 4, logger } });
    controlSeen.reset();
    const call = h.client.objectClient(ctlOrder, "log-paused").broken();
    expect(await eventually(() => lines.some((l) => l.key === "log-paused" && /paused/.test(l.msg)))).toBe(true);
    const id = controlSeen.ids.get("broken:log-paused") ?? "";
    const pausedLines = lines.filter((l) => l.key === "log-paused" && /paused/.test(l.msg));
    expect(pausedLines).toHaveLength(1);
    expect(pausedLines[0]).toMatchObject({ level: 50, handler: "broken", invocationId: id, attempt: 2 });
    expect(pausedLines[0]?.msg).toContain(`cairn invocations resume ${id}`);
    expect(pausedLines[0]?.msg).toContain(`cairn invocations kill ${id}`);
    await h.client.kill(id);
    await expect(call).rejects.toBeInstanceOf(TerminalError);
    expect(lines.filter((l) => l.invocationId === id && /killed/.test(l.msg)).length).toBeGreaterThanOrEqual(1);
  });
});
