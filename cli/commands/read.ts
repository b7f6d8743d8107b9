// What every read and control command does around its query: parse the target flags, open the
// reader, print, close; a reader's failure becomes one line and its exit code.
import type { Command } from "commander";
import { type AdminFlags, type AdminTarget, adminError, adminFlags, openAdminTarget } from "../admin-target.js";
import { ScriptError, UsageError } from "../errors.js";
import { type Rendered, emit } from "../flags.js";

/** Runs `query` against the host or namespace that `command`'s options name, and prints its answer. */
export async function withReader(command: Command, query: (target: AdminTarget, flags: AdminFlags) => Promise<Rendered>): Promise<void> {
  const flags = adminFlags(command.opts(), command);
  const target = await openAdminTarget(flags);
  try {
    emit(await query(target, flags), flags.json);
  } catch (error) {
    throw error instanceof ScriptError || error instanceof UsageError ? error : adminError(error, target);
  } finally {
    await target.close();
  }
}
