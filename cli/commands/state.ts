// `cairn state Type key` and `cairn state history Type key`.
import { Command } from "commander";
import { z } from "zod";
import type { HistoryEntryView, StateChangeView, StateEntryView } from "../../runtime/admin/api.js";
import { withAdminTarget } from "../admin-target.js";
import { UnreachableError } from "../errors.js";
import { count, parseFlags } from "../flags.js";
import { CELL_WIDTH, shortJson, table, time } from "../table.js";
import { withReader } from "./read.js";

const PageSchema = z.object({ offset: count(0).default(0), limit: count(1).default(100) });
const HistorySchema = z.object({ limit: count(1).default(50) });

const CUT_NOTE = "(long values are cut: --json shows them whole)";

export function stateCommand(): Command {
  const state = withAdminTarget(new Command("state"))
    .description("the state entries of one object or workflow key, decoded, in name order")
    .argument("<Type>", "the object or workflow")
    .argument("<key>", "its key")
    .option("--offset <n>", "skip this many entries (paging)", "0")
    .option("--limit <n>", "show at most this many entries", "100")
    .action((object: string, key: string, _options: unknown, command: Command) =>
      withReader(command, async ({ reader, where }) => {
        const page = parseFlags(PageSchema, command.opts());
        const view = await reader.state(object, key, page);
        if (view === undefined) throw new UnreachableError(`${where}: no host serves the partition of ${object}/${key} now`);
        const cut = view.entries.some((entry) => shortJson(entry.value).cut);
        const shown = view.entries.length === 0 ? "" : `, showing ${page.offset + 1}-${page.offset + view.entries.length}`;
        const more = page.offset + view.entries.length < view.total ? `\n(more: --offset ${page.offset + view.entries.length})` : "";
        const rows = table<StateEntryView>(
          view.entries,
          [
            { header: "name", cell: (entry) => entry.name },
            { header: "bytes", cell: (entry) => String(entry.bytes) },
            { header: "value", cell: (entry) => shortJson(entry.value).text },
          ],
          "(no entries)",
        );
        const text = `${view.object}/${view.key} (partition ${view.partition}): ${view.total} ${view.total === 1 ? "entry" : "entries"}${shown}\n${rows}${cut ? `\n${CUT_NOTE}` : ""}${more}`;
        return { json: view, text };
      }),
    );
  state.addCommand(historyCommand());
  return state;
}

function historyCommand(): Command {
  return withAdminTarget(new Command("history"))
    .description("every commit that changed a key, newest first: invocation, handler, time, values before and after")
    .argument("<Type>", "the object or workflow")
    .argument("<key>", "its key")
    .option("--limit <n>", "show at most this many commits", "50")
    .action((object: string, key: string, _options: unknown, command: Command) =>
      withReader(command, async ({ reader }) => {
        const { limit } = parseFlags(HistorySchema, command.opts());
        const history = await reader.history(object, key, limit);
        const rows = history.flatMap((entry) => entry.changes.map((change) => ({ entry, change })));
        const cut = rows.some(({ change }) => shortJson(change.before, CELL_WIDTH / 2).cut || shortJson(change.after, CELL_WIDTH / 2).cut);
        const text = table<{ entry: HistoryEntryView; change: StateChangeView }>(
          rows,
          [
            { header: "time", cell: ({ entry }) => time(entry.atMs) },
            { header: "invocation", cell: ({ entry }) => entry.invocationId },
            { header: "handler", cell: ({ entry }) => entry.handler },
            { header: "name", cell: ({ change }) => change.name },
            { header: "before", cell: ({ change }) => shortJson(change.before, CELL_WIDTH / 2).text },
            { header: "after", cell: ({ change }) => shortJson(change.after, CELL_WIDTH / 2).text },
          ],
          `${object}/${key}: no recorded changes (hosts keep state history only with historyEntriesPerKey > 0; \`cairn start\` keeps 100)`,
        );
        return { json: { history }, text: `${text}${cut ? `\n${CUT_NOTE}` : ""}` };
      }),
    );
}
