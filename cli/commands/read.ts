// What every read and control command does around its query: parse the target flags, open the
// reader, print, close.
import type { AdminReader } from "../admin-http.js";
import { type AdminFlags, adminFlags, openAdminReader } from "../admin-target.js";
import { type Rendered, emit } from "../flags.js";

/** Runs `query` against the host or namespace `options` name and prints its answer. */
export async function withReader(options: unknown, query: (reader: AdminReader, flags: AdminFlags) => Promise<Rendered>): Promise<void> {
  const flags = adminFlags(options);
  const reader = await openAdminReader(flags);
  try {
    emit(await query(reader, flags), flags.json);
  } finally {
    await reader.close();
  }
}
