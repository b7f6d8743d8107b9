// The definitions a user's modules export, found by shape: what `object()`, `service()` and
// `workflow()` return. By shape rather than by class, so that a module importing another copy of
// the SDK (sources against dist/, a second install) still serves.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { AnyDefinition } from "../sdk/index.js";
import { ScriptError, UsageError } from "./errors.js";

const TYPES = ["object", "service", "workflow"] as const;

function isDefinition(value: unknown): value is AnyDefinition {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as { type?: unknown; name?: unknown; handlers?: unknown };
  return TYPES.some((type) => type === candidate.type) && typeof candidate.name === "string" && typeof candidate.handlers === "object" && candidate.handlers !== null;
}

/** Imports each module (relative to the working directory) and gathers its exported definitions. */
export async function loadDefinitions(modules: readonly string[]): Promise<AnyDefinition[]> {
  const byName = new Map<string, { definition: AnyDefinition; module: string }>();
  for (const module of modules) {
    const exports = await importModule(module);
    const found = Object.values(exports).filter(isDefinition);
    if (found.length === 0) throw new UsageError(`${module} exports no object, service or workflow definition`);
    for (const definition of found) {
      const seen = byName.get(definition.name);
      if (seen && seen.definition !== definition) throw new UsageError(`"${definition.name}" is defined twice: in ${seen.module} and in ${module}`);
      byName.set(definition.name, { definition, module });
    }
  }
  return [...byName.values()].map(({ definition }) => definition);
}

async function importModule(module: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(resolve(module)).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (!isCode(error, "ERR_UNKNOWN_FILE_EXTENSION")) throw loadError(module, error);
  }
  // A TypeScript module outside source mode: load it through tsx when it is installed.
  const tsx = await import("tsx/esm/api").catch(() => undefined);
  if (!tsx) throw new ScriptError(`${module}: Node cannot load this file type by itself; install tsx (npm install -D tsx) or compile it to JavaScript`);
  try {
    // Not `import(url)` again: Node keeps the failed first load of that URL.
    return (await tsx.tsImport(url, import.meta.url)) as Record<string, unknown>;
  } catch (error) {
    throw loadError(module, error);
  }
}

function loadError(module: string, error: unknown): Error {
  if (isCode(error, "ERR_MODULE_NOT_FOUND") && error instanceof Error && error.message.includes(resolve(module))) {
    return new UsageError(`${module}: no such module`);
  }
  return new ScriptError(`${module} failed to load: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === code;
}
