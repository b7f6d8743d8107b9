import { JournalMismatchError } from "../errors.js";
import type { JournalEntry, JournalEntryType } from "../store/index.js";

type EntryOf<T extends JournalEntryType> = Extract<JournalEntry, { type: T }>;

/** How an entry reads in a mismatch message: the context call that made it. */
export function describeEntry(type: JournalEntryType, name: string | undefined): string {
  const call: Record<JournalEntryType, string> = {
    run: "ctx.run",
    get: "ctx.get",
    "state-keys": "ctx.stateKeys",
    set: "ctx.set",
    clear: "ctx.clear",
    "clear-all": "ctx.clearAll",
    send: "a send to",
    sleep: "ctx.sleep",
    now: "ctx.date.now",
    call: "a call to",
    awakeable: "ctx.awakeable",
    promise: "ctx.promise(...).get",
    "promise-peek": "ctx.promise(...).peek",
    "promise-complete": "ctx.promise(...).resolve",
  };
  if (type === "send" || type === "call") return `${call[type]} ${name ?? "?"}`;
  return name === undefined ? `${call[type]}()` : `${call[type]}(${JSON.stringify(name)})`;
}

/** The name an entry is matched by on replay, besides its type. */
function nameOf(entry: JournalEntry): string | undefined {
  switch (entry.type) {
    case "run":
    case "get":
    case "set":
    case "clear":
    case "promise":
    case "promise-peek":
    case "promise-complete":
      return entry.name;
    case "send":
    case "call":
      return entry.target;
    case "state-keys":
    case "clear-all":
    case "sleep":
    case "now":
    case "awakeable":
      return undefined;
    default: {
      const unreachable: never = entry;
      throw new Error(`unknown journal entry ${String(unreachable)}`);
    }
  }
}

/**
 * One attempt's view of its invocation's journal. Every context action takes the next index; below
 * the end of what was committed before the attempt began, the action replays the entry recorded
 * there (or, where a parallel step had not finished, runs again). An action that does not match the
 * recorded entry (the code changed under a running invocation) throws `JournalMismatchError`.
 * Entries made by this attempt wait here until the next suspension point commits them.
 */
export class AttemptJournal {
  private nextIndex = 0;
  private readonly replayEnd: number;
  private pending: Array<[index: number, entry: JournalEntry]> = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(
    private readonly recorded: ReadonlyMap<number, JournalEntry>,
    private readonly label: string,
    private readonly invocationId: string,
  ) {
    let end = 0;
    for (const index of recorded.keys()) if (index >= end) end = index + 1;
    this.replayEnd = end;
  }

  /** Whether the actions now are re-made from the journal (nothing they do takes effect again). */
  get replaying(): boolean {
    return this.nextIndex < this.replayEnd;
  }

  /** How many actions the handler has made in this attempt. */
  get made(): number {
    return this.nextIndex;
  }

  /** How many actions the journal held when the attempt began: a replay has caught up once it made as many. */
  get end(): number {
    return this.replayEnd;
  }

  /**
   * Resolves once the handler has made `count` actions. A replay hands a wait's outcome over only
   * then (as many as when the first run saw it), so that the waits of a race end in the same order,
   * and a wait that had not ended before the journal's end only once the replay caught up.
   */
  reached(count: number): Promise<void> {
    if (this.nextIndex >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** Takes the next index for an action, with the entry recorded there when this is a replay. */
  next<T extends JournalEntryType>(type: T, name?: string): { index: number; recorded: EntryOf<T> | undefined } {
    const index = this.nextIndex++;
    if (this.waiters.length > 0) this.release();
    if (index >= this.replayEnd) return { index, recorded: undefined };
    const entry = this.recorded.get(index);
    if (entry === undefined) return { index, recorded: undefined };
    if (entry.type !== type || nameOf(entry) !== name) {
      throw new JournalMismatchError(
        `${this.label}: the handler no longer matches the journal of ${this.invocationId} at entry ${index}: it recorded ${describeEntry(entry.type, nameOf(entry))}, and now made ${describeEntry(type, name)}. The code changed under a running invocation; it is retried with backoff, and resumes once the code it started with is deployed again`,
        { index, invocationId: this.invocationId },
      );
    }
    return { index, recorded: entry as EntryOf<T> };
  }

  private release(): void {
    const ready = this.waiters.filter((w) => w.count <= this.nextIndex);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.count > this.nextIndex);
    for (const waiter of ready) waiter.resolve();
  }

  /** Records what a new action did; committed with the next suspension point. */
  record(index: number, entry: JournalEntry): void {
    this.pending.push([index, entry]);
  }

  /** The entries recorded since the last call, for a commit. */
  take(): Array<[index: number, entry: JournalEntry]> {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }
}
