import pino from "pino";
import { describe, expect, it } from "vitest";
import { TerminalError } from "cairn";
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
});
