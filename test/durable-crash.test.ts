import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { type CairnClient, connect } from "cairn/client";
import { startHost } from "cairn/runtime";
import { SCENARIO_PARTITIONS, SCENARIO_STEPS, type ScenarioOutcome, crashScenario, scenarioOp } from "./fixtures/durable-crash.js";
import { type EffectLine, type ScenarioCheck, type ScenarioFacts, checkScenario, collectScenarioFacts, readEffects, runScenarioOp } from "./helpers/durable-crash.js";
import { seededRandom, tempDir, uniqueNamespace } from "./helpers/host.js";
import { killProcess, startFixtureProcess } from "./helpers/host-process.js";
import { type Mode, ModeName, durableModes, useMode } from "./helpers/modes.js";

// The multi-step scenario of test/fixtures/durable-crash.ts (steps, calls to objects on other
// partitions, a durable sleep), under a host SIGKILLed at seeded moments; each host process is one
// "generation" of the effects file its step functions append to.
const SEED = Number(process.env.CAIRN_CRASH_SEED ?? 9_2026);
const KILLS = Number(process.env.CAIRN_CRASH_KILLS ?? 6);
/** How long the operations still unanswered after the last kill may take to finish: a hang fails the test. */
const FINISH_MS = 45_000;
const MAIN = "test/fixtures/durable-crash-main.ts";

/** How long a generation lives: mostly long enough for steps to commit, sometimes killed while it resumes the last one's invocations. */
const lifetimeMs = (random: () => number) => (random() < 0.25 ? 50 + Math.floor(random() * 250) : 300 + Math.floor(random() * 1200));

let child: ChildProcess | undefined;
const killChild = () => killProcess(child);

interface DurableCrashRun {
  started: number;
  /** What the hosts logged at error level (and anything else their processes wrote to stderr). */
  logged: string[];
  killed: Set<number>;
  effectsPath: string;
  check: ScenarioCheck;
}

async function withDeadline<T>(work: Promise<T>, ms: number, stuck: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${ms} ms: ${stuck()}`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const replayEnv = (mode: Mode): Record<string, string> => (mode.alwaysReplay ? { CAIRN_TEST_ALWAYS_REPLAY: "1" } : {});
const owners = (ns: Iterable<number>) => [...ns].map((n) => scenarioOp(n).owner).join(", ");

/**
 * Embedded mode: each generation is a child process holding the host and the load
 * (durable-crash-main.ts `load`), journaling each operation it starts and sees answered; the next
 * calls the unanswered ones again first. After the last kill this process opens the data dir as the
 * last generation, waits for what is still unanswered, and checks.
 */
async function embeddedRun(mode: Mode, random: () => number): Promise<DurableCrashRun> {
  const dataDir = tempDir();
  const effectsPath = join(tempDir(), "effects");
  const journal = join(tempDir(), "journal");
  const started = new Set<number>();
  const acknowledged = new Set<number>();
  const killed = new Set<number>();
  const logged: string[] = [];
  const readJournal = () => {
    if (!existsSync(journal)) return;
    for (const line of readFileSync(journal, "utf8").split("\n")) {
      const [kind, n] = line.split(" ");
      if (kind === "s") started.add(Number(n));
      if (kind === "a") acknowledged.add(Number(n));
    }
  };
  const unacknowledged = () => [...started].filter((n) => !acknowledged.has(n));

  for (let generation = 1; generation <= KILLS; generation++) {
    const next = Math.max(0, ...[...started].map((n) => n + 1));
    child = await startFixtureProcess(MAIN, [dataDir, effectsPath, String(generation), "load", journal, String(next)], {
      env: { CAIRN_CRASH_REDO: unacknowledged().join(","), ...replayEnv(mode) },
      onStderr: (text) => logged.push(text),
    });
    await sleep(lifetimeMs(random));
    await killChild();
    killed.add(generation);
    readJournal();
    console.log(`kill ${generation}/${KILLS}: ${acknowledged.size} invocations answered, ${unacknowledged().length} in flight`);
  }

  const scenario = crashScenario({ effectsPath, generation: KILLS + 1 });
  const logger = pino({ level: "error" }, { write: (text: string) => logged.push(text) });
  const host = await startHost({ services: scenario.services, dataDir, partitions: SCENARIO_PARTITIONS, alwaysReplay: mode.alwaysReplay, logger });
  try {
    const pending = unacknowledged();
    await withDeadline(Promise.all(pending.map((n) => runScenarioOp(host.client, scenario, n))), FINISH_MS, () => `unanswered after the restart: ${owners(pending)}`);
    const facts = await withDeadline(collectScenarioFacts(host.client, scenario, started, effectsPath), FINISH_MS, () => "reading the outcomes back");
    return { started: started.size, logged, killed, effectsPath, check: checkScenario(facts, killed) };
  } finally {
    await host.close();
  }
}

/**
 * NATS mode: each generation is a host child process (durable-crash-main.ts `nats`), restarted on
 * the same data dir after each kill, while the load runs here through a client that outlives them.
 */
async function natsRun(mode: Mode, natsUrl: string, random: () => number): Promise<DurableCrashRun> {
  const dataDir = tempDir();
  const effectsPath = join(tempDir(), "effects");
  const namespace = uniqueNamespace("dcrash");
  const logged: string[] = [];
  const startGeneration = (generation: number) =>
    startFixtureProcess(MAIN, [dataDir, effectsPath, String(generation), "nats", natsUrl, namespace], {
      env: replayEnv(mode),
      onStderr: (text) => logged.push(text),
    });
  // Only the definitions: no step runs in this process.
  const scenario = crashScenario({ effectsPath, generation: 0 });
  const killed = new Set<number>();
  child = await startGeneration(1);
  // Shorter than a restart: a call in flight during a kill times out and is made again, attaching to its invocation.
  const client: CairnClient = await connect({ servers: natsUrl, namespace, timeoutMs: 700 });
  try {
    const started = new Set<number>();
    const acknowledged = new Set<number>();
    let stopping = false;
    let next = 0;
    const worker = async () => {
      while (!stopping) {
        const n = next++;
        started.add(n);
        await runScenarioOp(client, scenario, n);
        acknowledged.add(n);
      }
    };
    const load = Promise.all(Array.from({ length: 6 }, worker));
    for (let generation = 1; generation <= KILLS; generation++) {
      await sleep(lifetimeMs(random));
      const inFlight = started.size - acknowledged.size;
      await killChild();
      killed.add(generation);
      console.log(`kill ${generation}/${KILLS}: ${acknowledged.size} invocations answered, ${inFlight} in flight`);
      child = await startGeneration(generation + 1);
    }
    await sleep(500);
    stopping = true;
    // The hosts' error lines (a paused invocation says why) go with a failure.
    const hostErrors = () => logged.join("").split("\n").filter((line) => line.includes('"level":50')).slice(-10).join("\n");
    await withDeadline(load, FINISH_MS, () => `unanswered after the last restart: ${owners([...started].filter((n) => !acknowledged.has(n)))}\n${hostErrors()}`);
    const facts = await withDeadline(collectScenarioFacts(client, scenario, started, effectsPath), FINISH_MS, () => "reading the outcomes back");
    return { started: started.size, logged, killed, effectsPath, check: checkScenario(facts, killed) };
  } finally {
    await client.close();
    await killChild();
  }
}

/** Per kill, the invocations it cut in two and the step functions it caught running (those ran again). */
function describeKills(effects: EffectLine[], check: ScenarioCheck, killed: Set<number>): string[] {
  return [...killed].map((generation) => {
    const before = new Set(effects.filter((l) => l.generation <= generation).map((l) => l.owner));
    const spanning = new Set(effects.filter((l) => l.generation > generation && before.has(l.owner)).map((l) => l.owner));
    const caught = check.reruns.filter((r) => r.generations.slice(0, -1).includes(generation)).map((r) => `${r.owner}:${r.step}`);
    return `kill ${generation}: ${spanning.size} invocations ran steps before and after it${caught.length ? `, ${caught.length} caught running a step: ${caught.join(" ")}` : ", none caught running a step"}`;
  });
}

describe.each(durableModes)("$label", (mode) => {
  const cairn = useMode(mode);

  it("runs each committed step once, completes every invocation and answers every call once when the host is SIGKILLed between and during steps and calls", async () => {
    const random = seededRandom(SEED);
    let run: DurableCrashRun;
    try {
      switch (mode.name) {
        case ModeName.Embedded:
          run = await embeddedRun(mode, random);
          break;
        case ModeName.Nats:
          run = await natsRun(mode, cairn.natsUrl ?? "", random);
          break;
        default: {
          const never: never = mode.name;
          throw new Error(`unknown mode ${String(never)}`);
        }
      }
    } finally {
      await killChild();
    }
    const { check } = run;
    for (const line of describeKills(readEffects(run.effectsPath), check, run.killed)) console.log(line);
    const reruns = check.reruns.map((r) => `${r.owner}:${r.step} in generations ${r.generations.join(",")}`);
    console.log(
      `${mode.name} mode${mode.alwaysReplay ? " (always replaying)" : ""}, seed ${SEED}: ${run.killed.size} kills, ${run.started} invocations, ${check.stepRuns} step runs, ${check.calls} calls; ` +
        `${reruns.length} step functions ran again${reruns.length ? ` (${reruns.join("; ")})` : ""}; ${check.violations.length} violations`,
    );
    expect(run.killed.size).toBeGreaterThanOrEqual(5);
    expect(run.started).toBeGreaterThan(20); // the load really ran between the kills
    expect(check.violations).toEqual([]);
    expect(run.logged).toEqual([]);
  }, 150_000);
});

// The checks above pass on a correct run; these show they would fail on the violations they name.
describe("the durable crash check", () => {
  const { tallyA, tallyB } = scenarioOp(0).input;
  const outcome: ScenarioOutcome = {
    steps: { s1: 1, s2: 1, s3: 1 },
    calls: { A: { tally: tallyA, position: 1, generation: 1 }, B: { tally: tallyB, position: 1, generation: 1 } },
  };
  const facts = (change: (f: ScenarioFacts) => void = () => undefined): ScenarioFacts => {
    const f: ScenarioFacts = {
      started: [0],
      answers: new Map([[0, structuredClone(outcome)]]),
      outcomes: new Map([[0, structuredClone(outcome)]]),
      tallies: new Map([
        [tallyA, ["flow-0:A"]],
        [tallyB, ["flow-0:B"]],
      ]),
      effects: SCENARIO_STEPS.map((step) => ({ generation: 1, owner: "flow-0", step })),
    };
    change(f);
    return f;
  };
  const violations = (f: ScenarioFacts, killed = [1]) => checkScenario(f, new Set(killed)).violations;

  it("finds nothing wrong with a run where each step ran once", () => {
    expect(checkScenario(facts(), new Set([1]))).toMatchObject({ violations: [], reruns: [], stepRuns: 5, calls: 2 });
  });

  it("accepts a step run again after a kill that caught it, and reports it", () => {
    const f = facts((x) => {
      x.effects.splice(3, 0, { generation: 2, owner: "flow-0", step: "s2" });
      x.effects = x.effects.map((l, i) => (i > 3 ? { ...l, generation: 2 } : l));
      x.outcomes.set(0, { ...outcome, steps: { s1: 1, s2: 2, s3: 2 }, calls: { ...outcome.calls, B: { ...outcome.calls.B, generation: 2 } } });
      x.answers.set(0, structuredClone(x.outcomes.get(0) ?? outcome));
    });
    expect(checkScenario(f, new Set([1]))).toMatchObject({ violations: [], reruns: [{ owner: "flow-0", step: "s2", generations: [1, 2] }] });
    // The same file when process 1 was not killed: s2 ran twice without a crash.
    expect(violations(f, [])).toEqual(["flow-0:s2 ran again after generation 1, which was not killed"]);
  });

  it("finds a committed step that ran again, a result from the wrong run, a lost invocation and a call run twice", () => {
    expect(violations(facts((x) => x.effects.push({ generation: 2, owner: "flow-0", step: "s1" })))).toContain(
      "flow-0:s1 ran again in generation 2 after s3 had run (in generation 1): a committed step ran twice",
    );
    expect(violations(facts((x) => x.effects.push({ generation: 2, owner: "flow-0", step: "s3" })))).toEqual([
      "flow-0:s3: the result recorded is generation 1's, but generation 2's run came after it",
    ]);
    expect(violations(facts((x) => x.outcomes.set(0, null)))).toEqual(["flow-0 has no outcome: the invocation did not complete"]);
    expect(violations(facts((x) => x.tallies.set(tallyA, ["flow-0:A", "flow-0:A"])))).toEqual([`flow-0:A is in ${tallyA}'s calls 2 times`]);
    expect(violations(facts((x) => x.effects.splice(1, 1)))).toEqual(["flow-0:A never ran"]);
  });
});
