import type { ServedService } from "../invoke/index.js";

/**
 * How a host's services and handlers differ from its namespace's record, each item in words:
 * `missing` the record has and the host lacks, `extra` the host adds, `changed` a type or kind.
 */
export interface ServedDiff {
  missing: string[];
  extra: string[];
  changed: string[];
}

function article(type: ServedService["type"]): string {
  return type === "object" ? "an object" : `a ${type}`;
}

function handlerItem(service: string, handler: ServedService["handlers"][number]): string {
  return `handler ${service}.${handler.name} (${handler.kind})`;
}

/** Compares by name, services first by their own order (sorted, as `Registry.describe()` gives them). */
export function diffServed(recorded: readonly ServedService[], mine: readonly ServedService[]): ServedDiff {
  const diff: ServedDiff = { missing: [], extra: [], changed: [] };
  const mineByName = new Map(mine.map((s) => [s.name, s]));
  const recordedByName = new Map(recorded.map((s) => [s.name, s]));
  const names = [...new Set([...recordedByName.keys(), ...mineByName.keys()])].sort();
  for (const name of names) {
    const theirs = recordedByName.get(name);
    const ours = mineByName.get(name);
    if (!ours && theirs) diff.missing.push(`${theirs.type} ${name}`);
    else if (ours && !theirs) diff.extra.push(`${ours.type} ${name}`);
    else if (ours && theirs) {
      if (ours.type !== theirs.type) {
        diff.changed.push(`${name} is ${article(theirs.type)} in the namespace, ${article(ours.type)} here`);
        continue;
      }
      const ourHandlers = new Map(ours.handlers.map((h) => [h.name, h]));
      const theirHandlers = new Map(theirs.handlers.map((h) => [h.name, h]));
      for (const handler of theirs.handlers) {
        const our = ourHandlers.get(handler.name);
        if (!our) diff.missing.push(handlerItem(name, handler));
        else if (our.kind !== handler.kind) diff.changed.push(`handler ${name}.${handler.name} is ${handler.kind} in the namespace, ${our.kind} here`);
      }
      for (const handler of ours.handlers) if (!theirHandlers.has(handler.name)) diff.extra.push(handlerItem(name, handler));
    }
  }
  return diff;
}

export function isSameServed(diff: ServedDiff): boolean {
  return diff.missing.length === 0 && diff.extra.length === 0 && diff.changed.length === 0;
}

/** Only additions: what `namespaceChange: "add"` allows. */
export function onlyAdds(diff: ServedDiff): boolean {
  return diff.missing.length === 0 && diff.changed.length === 0;
}

/** The refusal's message: the difference, and what the operator can do about it. */
export function describeServedDiff(namespace: string, diff: ServedDiff, change: "refuse" | "add"): string {
  const parts = [
    diff.missing.length > 0 ? `missing: ${diff.missing.join(", ")}` : undefined,
    diff.extra.length > 0 ? `extra: ${diff.extra.join(", ")}` : undefined,
    diff.changed.length > 0 ? `changed: ${diff.changed.join(", ")}` : undefined,
  ].filter((part) => part !== undefined);
  const advice = onlyAdds(diff)
    ? change === "refuse"
      ? 'To add them in a rolling upgrade, start the new hosts with namespaceChange: "add".'
      : ""
    : 'Every host of a namespace serves everything its record holds, with the same types and kinds: a rolling upgrade may add services and handlers (namespaceChange: "add"), ' +
      'never remove or change one. To remove or change one, stop every host of the namespace and delete its record (see "Namespace consistency" in docs/architecture.md).';
  return `namespace "${namespace}" records other services than this host serves (${parts.join("; ")}). ${advice}`.trim();
}
