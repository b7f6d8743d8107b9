import type { Logger } from "pino";
import type { ContextSendClient, SendClientOptions } from "./client-types.js";
import type { ObjectContext } from "./context.js";
import type { AnyDefinition, HandlerKind, ObjectDefinition, ServiceDefinition } from "./definitions.js";
import { TerminalError } from "./errors.js";
import { type Target, checkPlainData, objectKeyProblem, stateNameProblem, targetLabel } from "./protocol/index.js";

/** What the runtime lends a context: committed state of the key and a place to put sends. */
export interface InvocationScope {
  readonly invocationId: string;
  readonly kind: HandlerKind;
  readonly key: string | undefined;
  readonly log: Logger;
  /** The committed value of one state entry, or `undefined`. */
  readState(name: string): unknown;
  /** The names of the committed state entries. */
  readStateKeys(): string[];
}

export interface OutgoingSend {
  target: Target;
  input: unknown;
  /** A delayed send: released this long after the commit. */
  delayMs?: number;
}

/** The buffered effects of one attempt, committed together or not at all. */
export interface AttemptEffects {
  /** `undefined` value = delete. */
  writes: Map<string, { value: unknown } | undefined>;
  clearedAll: boolean;
  sends: OutgoingSend[];
}

/** One context per attempt: a retried attempt starts from a fresh one, so failed writes vanish. */
export class ContextImpl implements ObjectContext {
  readonly effects: AttemptEffects = { writes: new Map(), clearedAll: false, sends: [] };

  constructor(private readonly scope: InvocationScope) {}

  get invocationId(): string {
    return this.scope.invocationId;
  }

  get log(): Logger {
    return this.scope.log;
  }

  get key(): string {
    if (this.scope.key === undefined) throw new TerminalError("ctx.key is only available in object handlers");
    return this.scope.key;
  }

  async get<T>(name: string): Promise<T | null> {
    this.requireObject("get");
    checkStateName("get", name);
    const write = this.effects.writes.get(name);
    if (write) return write.value as T;
    if (this.effects.writes.has(name) || this.effects.clearedAll) return null;
    const value = this.scope.readState(name);
    return value === undefined ? null : (value as T);
  }

  async stateKeys(): Promise<string[]> {
    this.requireObject("stateKeys");
    const names = new Set(this.effects.clearedAll ? [] : this.scope.readStateKeys());
    for (const [name, write] of this.effects.writes) {
      if (write) names.add(name);
      else names.delete(name);
    }
    return [...names].sort();
  }

  set<T>(name: string, value: T): void {
    this.requireExclusive("set");
    checkStateName("set", name);
    if (value === undefined) throw new TerminalError(`ctx.set("${name}", undefined): use ctx.clear("${name}") to remove an entry`);
    // Refused here, where the stack points at the caller; the commit checks again what it encodes.
    checkPlainData(value, `ctx.set(${JSON.stringify(name)}, value)`, "value");
    this.effects.writes.set(name, { value });
  }

  clear(name: string): void {
    this.requireExclusive("clear");
    checkStateName("clear", name);
    this.effects.writes.set(name, undefined);
  }

  clearAll(): void {
    this.requireExclusive("clearAll");
    this.effects.writes.clear();
    this.effects.clearedAll = true;
  }

  objectSendClient<D extends ObjectDefinition>(definition: D, key: string, options?: SendClientOptions): ContextSendClient<D> {
    const problem = objectKeyProblem(key);
    if (problem !== undefined) throw new TerminalError(`ctx.objectSendClient(${definition.name}, key): ${problem}`);
    return this.sendClient(definition, (handler) => ({ type: "object", name: definition.name, key, handler }), checkDelay(`ctx.objectSendClient(${definition.name})`, options));
  }

  serviceSendClient<D extends ServiceDefinition>(definition: D, options?: SendClientOptions): ContextSendClient<D> {
    return this.sendClient(definition, (handler) => ({ type: "service", name: definition.name, handler }), checkDelay(`ctx.serviceSendClient(${definition.name})`, options));
  }

  private sendClient<D extends AnyDefinition>(definition: D, target: (handler: string) => Target, delayMs: number | undefined): ContextSendClient<D> {
    const client: Record<string, (input?: unknown) => void> = {};
    for (const handler of Object.keys(definition.handlers)) {
      client[handler] = (input?: unknown) => {
        checkPlainData(input, `the input of the send to ${targetLabel(target(handler))}`, "input");
        this.effects.sends.push(delayMs ? { target: target(handler), input, delayMs } : { target: target(handler), input });
      };
    }
    return client as unknown as ContextSendClient<D>;
  }

  private requireObject(method: string): void {
    if (this.scope.kind === "service") throw new TerminalError(`ctx.${method}(...) may only be called from an object handler`);
  }

  private requireExclusive(method: string): void {
    if (this.scope.kind !== "exclusive") {
      throw new TerminalError(`ctx.${method}(...) may only be called from an exclusive handler`);
    }
  }
}

/** The delay of a send client's options, checked: a whole number of milliseconds, 0 or more. */
function checkDelay(call: string, options: SendClientOptions | undefined): number | undefined {
  const delayMs = options?.delayMs;
  if (delayMs === undefined) return undefined;
  if (!Number.isSafeInteger(delayMs) || delayMs < 0) throw new TerminalError(`${call}: delayMs must be a whole number of milliseconds, 0 or more (got ${String(delayMs)})`);
  return delayMs;
}

function checkStateName(method: string, name: string): void {
  const problem = stateNameProblem(name);
  if (problem !== undefined) throw new TerminalError(`ctx.${method}(name, ...): ${problem}`);
}
