import { existsSync, readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import type { CairnClient } from "cairn/client";
import {
  type CrashScenario,
  SCENARIO_STEPS,
  type ScenarioOutcome,
  type ScenarioStep,
  ScenarioKind,
  scenarioOp,
} from "../fixtures/durable-crash.js";
import { untilAcknowledged } from "./host.js";

/** Makes operation `n` of the scenario load until it is answered; a retry attaches to the same invocation. */
export async function runScenarioOp(client: CairnClient, scenario: CrashScenario, n: number, stats: { retries: number } = { retries: 0 }): Promise<ScenarioOutcome> {
  const op = scenarioOp(n);
  switch (op.kind) {
    case ScenarioKind.Flow:
      return untilAcknowledged(() => client.workflowClient(scenario.flow, op.owner).run(op.input), stats);
    case ScenarioKind.Trip:
      return untilAcknowledged(() => client.objectClient(scenario.trip, op.owner).go(op.input, { idempotencyKey: op.owner }), stats);
    default: {
      const never: never = op.kind;
      throw new Error(`unknown scenario kind ${String(never)}`);
    }
  }
}

async function outcomeOf(client: CairnClient, scenario: CrashScenario, n: number): Promise<ScenarioOutcome | null> {
  const op = scenarioOp(n);
  switch (op.kind) {
    case ScenarioKind.Flow:
      return untilAcknowledged(() => client.workflowClient(scenario.flow, op.owner).outcome());
    case ScenarioKind.Trip:
      return untilAcknowledged(() => client.objectClient(scenario.trip, op.owner).outcome());
    default: {
      const never: never = op.kind;
      throw new Error(`unknown scenario kind ${String(never)}`);
    }
  }
}

/** One line of the effects file: a step function that ran. */
export interface EffectLine {
  generation: number;
  owner: string;
  step: ScenarioStep;
}

export function readEffects(path: string): EffectLine[] {
  if (!existsSync(path)) return [];
  const steps = new Set<string>(SCENARIO_STEPS);
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [generation, owner, step] = line.split(" ");
      if (!owner || !step || !steps.has(step)) throw new Error(`effects file: malformed line ${JSON.stringify(line)}`);
      return { generation: Number(generation), owner, step: step as ScenarioStep };
    });
}

/** What the scenario's store and effects file say once every invocation was answered. */
export interface ScenarioFacts {
  /** The operations started. */
  started: number[];
  /** Per started operation, its answer to a call made after the run (a second `run`, or the idempotency key again). */
  answers: Map<number, ScenarioOutcome>;
  /** Per started operation, its `outcome` state. */
  outcomes: Map<number, ScenarioOutcome | null>;
  /** Per tally key, the calls it recorded (`owner:call`), in order. */
  tallies: Map<string, string[]>;
  effects: EffectLine[];
}

export async function collectScenarioFacts(client: CairnClient, scenario: CrashScenario, started: Iterable<number>, effectsPath: string): Promise<ScenarioFacts> {
  const facts: ScenarioFacts = { started: [...started].sort((a, b) => a - b), answers: new Map(), outcomes: new Map(), tallies: new Map(), effects: [] };
  const tallyKeys = new Set<string>();
  for (const n of facts.started) {
    facts.outcomes.set(n, await outcomeOf(client, scenario, n));
    facts.answers.set(n, await runScenarioOp(client, scenario, n));
    const { input } = scenarioOp(n);
    tallyKeys.add(input.tallyA).add(input.tallyB);
  }
  for (const key of tallyKeys) facts.tallies.set(key, await untilAcknowledged(() => client.objectClient(scenario.tally, key).calls()));
  facts.effects = readEffects(effectsPath);
  return facts;
}

export interface Rerun {
  owner: string;
  step: ScenarioStep;
  generations: number[];
}

export interface ScenarioCheck {
  /** Every broken invariant, each naming the invocation and step. */
  violations: string[];
  /** Step functions that ran more than once, with the generations that ran them in order. */
  reruns: Rerun[];
  /** Lines in the effects file (step functions run, callee steps included). */
  stepRuns: number;
  /** Calls the tallies recorded. */
  calls: number;
}

/**
 * The invariants, read from the facts:
 * - every invocation completed: its outcome is in state, and a later call gets the same answer;
 * - every step function ran at least once, at most once per host process, and a step never ran
 *   after a later step of its invocation had started (once a later step runs, the earlier one was
 *   committed: running it again would be running a committed step again). So a step that ran twice
 *   was running, uncommitted, in a process that was killed, and it ran at most 1 + (kills during it) times;
 * - the committed result of a step is the last run of it (no run after the one that committed);
 * - each call ran its callee once: each tally recorded each of its calls exactly once, and the
 *   caller holds the answer of that one run (its place in the tally's list).
 */
export function checkScenario(facts: ScenarioFacts, killedGenerations: ReadonlySet<number>): ScenarioCheck {
  const violations: string[] = [];
  const reruns: Rerun[] = [];
  const order = new Map<string, number>(SCENARIO_STEPS.map((s, i) => [s, i]));
  const owners = new Map(facts.started.map((n) => [scenarioOp(n).owner, n]));

  const runsByOwner = new Map<string, EffectLine[]>();
  for (const line of facts.effects) {
    if (!owners.has(line.owner)) violations.push(`${line.owner}:${line.step} ran, but no such invocation was started`);
    const runs = runsByOwner.get(line.owner) ?? [];
    const last = runs.at(-1);
    if (last && (order.get(line.step) ?? 0) < (order.get(last.step) ?? 0)) {
      violations.push(`${line.owner}:${line.step} ran again in generation ${line.generation} after ${last.step} had run (in generation ${last.generation}): a committed step ran twice`);
    }
    runs.push(line);
    runsByOwner.set(line.owner, runs);
  }

  for (const [owner, n] of owners) {
    const outcome = facts.outcomes.get(n) ?? null;
    if (outcome === null) violations.push(`${owner} has no outcome: the invocation did not complete`);
    else if (!isDeepStrictEqual(facts.answers.get(n), outcome)) violations.push(`${owner} answered ${JSON.stringify(facts.answers.get(n))}, but its state says ${JSON.stringify(outcome)}`);
    const runs = runsByOwner.get(owner) ?? [];
    for (const step of SCENARIO_STEPS) {
      const generations = runs.filter((r) => r.step === step).map((r) => r.generation);
      if (generations.length === 0) {
        violations.push(`${owner}:${step} never ran`);
        continue;
      }
      if (new Set(generations).size !== generations.length) violations.push(`${owner}:${step} ran twice in one process (generations ${generations.join(",")})`);
      if (generations.length > 1) reruns.push({ owner, step, generations });
      const unkilled = generations.slice(0, -1).filter((g) => !killedGenerations.has(g));
      if (unkilled.length > 0) violations.push(`${owner}:${step} ran again after generation ${unkilled.join(",")}, which was not killed`);
      const committed = generations.at(-1);
      if (outcome !== null) {
        const recorded = step === "A" || step === "B" ? outcome.calls[step].generation : outcome.steps[step];
        if (recorded !== committed) violations.push(`${owner}:${step}: the result recorded is generation ${recorded}'s, but generation ${committed}'s run came after it`);
      }
    }
    if (outcome !== null) {
      const { input } = scenarioOp(n);
      for (const [call, tally] of [["A", input.tallyA], ["B", input.tallyB]] as const) {
        const answer = outcome.calls[call];
        const calls = facts.tallies.get(tally) ?? [];
        const places = calls.flatMap((c, i) => (c === `${owner}:${call}` ? [i + 1] : []));
        if (places.length !== 1) violations.push(`${owner}:${call} is in ${tally}'s calls ${places.length} times`);
        else if (answer.tally !== tally || answer.position !== places[0]) {
          violations.push(`${owner}:${call} holds answer ${JSON.stringify(answer)}, but ${tally} recorded it at ${places[0]}`);
        }
      }
    }
  }
  let calls = 0;
  for (const [tally, list] of facts.tallies) {
    calls += list.length;
    for (const c of list) if (!owners.has(c.split(":")[0] ?? "")) violations.push(`${tally} recorded ${c}, which no started invocation made`);
  }
  return { violations, reruns, stepRuns: facts.effects.length, calls };
}
