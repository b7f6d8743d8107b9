// `cairn invocations [filters]`, `invocations show ID`, `invocations cancel|kill|resume ID`.
import { Command, Option } from "commander";
import { z } from "zod";
import type { ControlAnswer, InvocationDetail, InvocationStatusName, InvocationSummary, JournalEntryView } from "../../runtime/admin/api.js";
import { withAdminTarget } from "../admin-target.js";
import { NotFoundError } from "../errors.js";
import { count, parseFlags } from "../flags.js";
import { shortJson, table, targetLabel, time } from "../table.js";
import { withReader } from "./read.js";

const STATUSES = ["queued", "running", "suspended", "backing-off", "paused", "failed", "succeeded"] as const satisfies readonly InvocationStatusName[];

const FilterSchema = z.object({
  status: z.enum(STATUSES).optional(),
  object: z.string().min(1).optional(),
  key: z.string().optional(),
  limit: count(1).default(100),
});

const CONTROL: Record<"cancel" | "kill" | "resume", string> = {
  cancel: "cancel cooperatively: its pending and future awaits throw CancelledError, compensations run",
  kill: "end at once with an error to its caller, releasing its key (no compensation)",
  resume: "retry a paused invocation now",
};

export function invocationsCommand(): Command {
  const command = withAdminTarget(new Command("invocations"))
    .description("live invocations, and those ended within the idempotency window")
    .addOption(new Option("--status <status>", "only those with this status").choices(STATUSES))
    .option("--object <Type>", "only those of this object, workflow or service")
    .option("--key <key>", "only those of this key")
    .option("--limit <n>", "at most this many", "100")
    .action((_options: unknown, command: Command) =>
      withReader(command, async ({ reader }) => {
        const filter = parseFlags(FilterSchema, command.opts());
        const invocations = await reader.invocations(filter);
        return { json: { invocations }, text: summaries(invocations) };
      }),
    );
  command.addCommand(
    withAdminTarget(new Command("show"))
      .description("one invocation: target, status, attempts, last error, its journal entry by entry, what it waits on")
      .argument("<id>", "the invocation id (inv_…)")
      .action((id: string, _options: unknown, command: Command) =>
        withReader(command, async ({ reader, where }) => {
          const detail = await reader.invocation(id);
          if (detail === undefined) throw new NotFoundError(`${where}: no invocation ${id} (ended ones are kept for the idempotency window)`);
          return { json: detail, text: describe(detail) };
        }),
      ),
  );
  for (const op of ["cancel", "kill", "resume"] as const) {
    command.addCommand(
      withAdminTarget(new Command(op))
        .description(CONTROL[op])
        .argument("<id>", "the invocation id (inv_…)")
        .action((id: string, _options: unknown, command: Command) =>
          withReader(command, async ({ control }) => {
            await control[op](id);
            const answer: ControlAnswer = { invocationId: id, accepted: true };
            return { json: answer, text: `${op} of ${id} accepted (it acts asynchronously: \`cairn invocations show ${id}\` follows it)` };
          }),
        ),
    );
  }
  return command;
}

function summaries(invocations: readonly InvocationSummary[]): string {
  return table(
    invocations,
    [
      { header: "id", cell: (inv) => inv.id },
      { header: "target", cell: (inv) => targetLabel(inv.target) },
      { header: "status", cell: (inv) => inv.status },
      { header: "partition", cell: (inv) => String(inv.partition) },
      { header: "failed attempts", cell: (inv) => String(inv.failedAttempts) },
      { header: "next", cell: (inv) => time(inv.nextAttemptAtMs ?? inv.wakeAtMs) },
      { header: "last error", cell: (inv) => (inv.lastError === undefined ? "-" : shortJson(inv.lastError).text) },
    ],
    "(no invocations)",
  );
}

function describe(detail: InvocationDetail): string {
  const fields: Array<[string, string]> = [
    ["invocation", detail.id],
    ["target", targetLabel(detail.target)],
    ["status", detail.status],
    ["partition", String(detail.partition)],
    ["failed attempts", String(detail.failedAttempts)],
    ["last error", detail.lastError ?? "-"],
    ["next attempt", time(detail.nextAttemptAtMs)],
    ["wakes at", time(detail.wakeAtMs)],
    ["waiting on", detail.waitingOn ?? "-"],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  const head = fields.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join("\n");
  const journal = table<JournalEntryView>(
    detail.journal,
    [
      { header: "#", cell: (entry) => String(entry.index) },
      { header: "type", cell: (entry) => entry.type },
      { header: "name", cell: (entry) => entry.name ?? "-" },
      { header: "outcome", cell: (entry) => outcome(entry) },
    ],
    "(empty)",
  );
  return `${head}\n\njournal:\n${journal}`;
}

function outcome(entry: JournalEntryView): string {
  const wake = entry.wakeAtMs === undefined ? "" : ` (wakes at ${time(entry.wakeAtMs)})`;
  if (entry.outcome === undefined) return `-${wake}`;
  if (entry.outcome === "pending") return `pending${wake}`;
  return entry.outcome.ok ? `ok ${shortJson(entry.outcome.value).text}` : `error ${shortJson(entry.outcome.error).text}`;
}
