// `cairn timers [Type key]`, `cairn partitions`, `cairn services`: what a host or namespace holds.
import { Command } from "commander";
import { withAdminTarget } from "../admin-target.js";
import { UsageError } from "../errors.js";
import { table, targetLabel, time } from "../table.js";
import { withReader } from "./read.js";

export function timersCommand(): Command {
  return withAdminTarget(new Command("timers"))
    .description("pending timers by due time: delayed sends, durable sleeps, retry backoffs")
    .argument("[Type]", "only those of this object, workflow or service")
    .argument("[key]", "only those of this key")
    .action((object: string | undefined, key: string | undefined, _options: unknown, command: Command) =>
      withReader(command, async ({ reader }) => {
        if (key !== undefined && object === undefined) throw new UsageError("timers: a key needs its Type");
        const timers = await reader.timers({ object, key });
        const text = table(
          timers,
          [
            { header: "due", cell: (timer) => time(timer.dueMs) },
            { header: "kind", cell: (timer) => timer.kind },
            { header: "target", cell: (timer) => targetLabel(timer.target) },
            { header: "invocation", cell: (timer) => timer.invocationId },
            { header: "partition", cell: (timer) => String(timer.partition) },
          ],
          "(no timers)",
        );
        return { json: { timers }, text };
      }),
    );
}

export function partitionsCommand(): Command {
  return withAdminTarget(new Command("partitions"))
    .description("each partition: owner, lease epoch, inbox and outbox backlog, timers, live invocations, changelog length")
    .action((_options: unknown, command: Command) =>
      withReader(command, async ({ reader }) => {
        const partitions = await reader.partitions();
        const text = table(
          partitions,
          [
            { header: "partition", cell: (p) => String(p.partition) },
            { header: "owner", cell: (p) => p.owner ?? "(none)" },
            { header: "epoch", cell: (p) => (p.epoch === undefined ? "-" : String(p.epoch)) },
            { header: "inbox", cell: (p) => String(p.inboxBacklog) },
            { header: "outbox", cell: (p) => String(p.outboxBacklog) },
            { header: "timers", cell: (p) => String(p.timers) },
            { header: "invocations", cell: (p) => String(p.invocations) },
            { header: "changelog", cell: (p) => String(p.changelogLength) },
          ],
          "(no partitions)",
        );
        return { json: { partitions }, text };
      }),
    );
}

export function servicesCommand(): Command {
  return withAdminTarget(new Command("services"))
    .description("what the host or namespace serves: objects, services and workflows, their handlers, and the hosts serving them")
    .action((_options: unknown, command: Command) =>
      withReader(command, async ({ reader }) => {
        const services = await reader.services();
        const text = table(
          services,
          [
            { header: "name", cell: (s) => s.name },
            { header: "type", cell: (s) => s.type },
            { header: "handlers", cell: (s) => s.handlers.map((h) => `${h.name} (${h.kind})`).join(", ") },
            { header: "hosts", cell: (s) => s.hosts.join(", ") || "-" },
          ],
          "(no services)",
        );
        return { json: { services }, text };
      }),
    );
}
