// examples/process-order.ts under SIGKILL: an embedded host in a child process
// (test/fixtures/process-order-main.ts) processes a stream of orders and is killed at seeded
// moments, between and during steps; then this process opens the same data dir and waits for every
// order to finish.
//
// The fake providers append every charge, subscription, email and account they make to a ledger
// file; this test appends a kill marker after each SIGKILL (the child is dead by then, so the file's
// order is the order things happened in). What Cairn owes (DESIGN.md, guarantee 5): a step whose
// result committed never runs again, and a step that ran but had not committed when its host died
// runs again after the restart. So the ledger must show, per order and step:
//   - at most one line per host lifetime (a step does not run twice without a crash in between),
//   - a second line only after a kill (a repeat is only a replay of an uncommitted step),
//   - the id the order's result carries is the LAST line of that step (nothing ran after the commit),
//   - no charge line after the order's subscription line (the charge committed before it went on),
// and every order completes: with all its ids, or with the declined card's TerminalError.
import type { ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { TerminalError } from "cairn";
import { startHost } from "cairn/runtime";
import { type OrderResult, type ProviderEvent, processOrder, providers } from "../../examples/process-order.js";
import { declined, orderId, orderInput } from "../fixtures/process-order-load.js";
import { seededRandom, tempDir } from "../helpers/host.js";
import { killProcess, startFixtureProcess } from "../helpers/host-process.js";

const SEED = Number(process.env.CAIRN_CRASH_SEED ?? 20260109);
const KILLS = 8;

type LedgerLine = ProviderEvent | { kind: "submit"; n: number } | { kind: "kill"; k: number };
type StepKind = "charge" | "subscription" | "email" | "account";
const STEPS: ReadonlyArray<{ kind: StepKind; resultId: keyof OrderResult }> = [
  { kind: "charge", resultId: "chargeId" },
  { kind: "subscription", resultId: "subscriptionId" },
  { kind: "email", resultId: "emailId" },
  { kind: "account", resultId: "accountId" },
];

const readLedger = (path: string): LedgerLine[] =>
  existsSync(path)
    ? readFileSync(path, "utf8")
        .split("\n")
        // A SIGKILL may cut the last line short.
        .filter((line) => line.endsWith("}"))
        .map((line) => JSON.parse(line) as LedgerLine)
    : [];

let child: ChildProcess | undefined;
afterAll(() => killProcess(child));

describe("examples/process-order.ts with its host SIGKILLed between and during steps", () => {
  it("charges every order's card once, except a charge whose step a kill cut before its commit, and completes every order", async () => {
    const random = seededRandom(SEED);
    const dataDir = tempDir();
    const ledger = join(tempDir(), "ledger");
    const submitted = () => {
      const ns = readLedger(ledger).flatMap((l) => (l.kind === "submit" ? [l.n] : []));
      return ns.length === 0 ? 0 : Math.max(...ns) + 1;
    };
    try {
      for (let k = 1; k <= KILLS; k++) {
        child = await startFixtureProcess("test/fixtures/process-order-main.ts", [dataDir, ledger, String(submitted())]);
        await sleep(300 + Math.floor(random() * 1200));
        await killProcess(child);
        appendFileSync(ledger, `${JSON.stringify({ kind: "kill", k })}\n`);
      }

      // A fresh host on the same data dir, in this process: it resumes what the last one left.
      providers.ledgerPath = ledger;
      const host = await startHost({ services: [processOrder], dataDir, logLevel: "error" });
      const orders = submitted();
      const results = new Map<number, OrderResult | TerminalError>();
      try {
        await Promise.all(
          Array.from({ length: orders }, async (_, n) => {
            try {
              results.set(n, await host.client.workflowClient(processOrder, orderId(n)).run(orderInput(n)));
            } catch (error) {
              if (!(error instanceof TerminalError)) throw error;
              results.set(n, error);
            }
          }),
        );
      } finally {
        await host.close();
      }

      // The ledger, per order and step: the host lifetime (kills before it) of each line.
      const lines = readLedger(ledger);
      const lifetimes = new Map<string, number[]>();
      const firstLine = new Map<string, number>();
      let kills = 0;
      lines.forEach((line, at) => {
        if (line.kind === "kill") kills++;
        if (line.kind === "kill" || line.kind === "submit" || line.kind === "charge-failed") return;
        const step = `${line.orderId} ${line.kind}`;
        lifetimes.set(step, [...(lifetimes.get(step) ?? []), kills]);
        if (!firstLine.has(step)) firstLine.set(step, at);
      });
      const idsOf = (order: string, kind: StepKind) => lines.flatMap((l) => (l.kind === kind && l.orderId === order ? [l.id] : []));

      const violations: string[] = [];
      let repeated = 0;
      let resumed = 0;
      for (let n = 0; n < orders; n++) {
        const order = orderId(n);
        const result = results.get(n);
        if (declined(n)) {
          expect(result).toBeInstanceOf(TerminalError);
          expect((result as TerminalError).message).toContain("CardDeclinedError");
          expect(idsOf(order, "charge")).toEqual([]);
          continue;
        }
        if (!result || result instanceof TerminalError) {
          violations.push(`${order} did not complete: ${String(result)}`);
          continue;
        }
        for (const { kind, resultId } of STEPS) {
          const ids = idsOf(order, kind);
          const lives = lifetimes.get(`${order} ${kind}`) ?? [];
          if (ids.at(-1) !== result[resultId]) violations.push(`${order}: ${resultId} ${result[resultId]} is not the last ${kind} line (${ids.join(", ")})`);
          if (lives.some((life, i) => i > 0 && life <= (lives[i - 1] ?? -1))) violations.push(`${order}: ${kind} ran twice in one host lifetime (${lives.join(", ")})`);
          if (ids.length > 1) repeated++;
        }
        const lastCharge = lines.findLastIndex((l) => l.kind === "charge" && l.orderId === order);
        if (lastCharge > (firstLine.get(`${order} subscription`) ?? -1)) violations.push(`${order}: charged after its subscription was created`);
        if (new Set(STEPS.flatMap(({ kind }) => lifetimes.get(`${order} ${kind}`) ?? [])).size > 1) resumed++;
      }

      const charges = lines.filter((l) => l.kind === "charge").length;
      const charged = [...results.values()].filter((r) => !(r instanceof TerminalError)).length;
      console.log(
        `seed ${SEED}: ${KILLS} kills, ${orders} orders (${charged} charged, ${orders - charged} declined), ${charges} charge lines, ` +
          `${repeated} step(s) run again after a kill cut them before their commit, ${resumed} order(s) resumed across a kill`,
      );
      expect(violations).toEqual([]);
      expect(kills).toBe(KILLS);
      expect(orders).toBeGreaterThan(20); // the load really ran between the kills
      expect(resumed).toBeGreaterThan(0); // kills landed inside orders, not only between them
    } finally {
      await killProcess(child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});
