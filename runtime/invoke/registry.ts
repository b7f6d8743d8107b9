import type { z } from "zod";
import type { AnyDefinition, HandlerKind, RetryPolicy } from "../../sdk/index.js";
import { TerminalError } from "../../sdk/index.js";
import { type Target, isHandlerDefinition } from "../../sdk/internal.js";

/** A handler as the runtime runs it: kind, function and options, whatever way it was written. */
export interface ResolvedHandler {
  readonly label: string;
  readonly kind: HandlerKind;
  /** A workflow's `run`: once per key; its context has durable promises. Its other handlers: `workflow-shared`. */
  readonly workflow: "run" | "shared" | undefined;
  readonly fn: (ctx: never, input: unknown) => unknown;
  readonly input: z.ZodType | undefined;
  readonly output: z.ZodType | undefined;
  readonly retryPolicy: RetryPolicy | undefined;
  readonly timeoutMs: number | undefined;
}

/** The definitions a host serves, looked up by target. */
export class Registry {
  private readonly definitions = new Map<string, AnyDefinition>();
  private readonly handlers = new Map<string, ResolvedHandler>();

  constructor(definitions: readonly AnyDefinition[]) {
    for (const definition of definitions) {
      if (this.definitions.has(definition.name)) throw new TypeError(`"${definition.name}" is defined twice`);
      this.definitions.set(definition.name, definition);
      for (const [name, entry] of Object.entries(definition.handlers)) {
        const label = `${definition.name}.${name}`;
        const workflow = definition.type === "workflow" ? (name === "run" ? "run" : "shared") : undefined;
        const resolved: ResolvedHandler = isHandlerDefinition(entry)
          ? {
              label,
              workflow,
              kind: entry.kind,
              fn: entry.fn,
              input: entry.options.input,
              output: entry.options.output,
              retryPolicy: entry.options.retryPolicy,
              timeoutMs: entry.options.timeoutMs,
            }
          : {
              label,
              workflow,
              kind: workflow === "shared" ? "shared" : definition.type === "service" ? "service" : "exclusive",
              fn: entry as (ctx: never, input: unknown) => unknown,
              input: undefined,
              output: undefined,
              retryPolicy: undefined,
              timeoutMs: undefined,
            };
        this.handlers.set(label, resolved);
      }
    }
  }

  /** What the host serves, definition by definition, with each handler's kind (for the admin endpoint). */
  describe(): Array<{ name: string; type: AnyDefinition["type"]; handlers: ResolvedHandler[] }> {
    return [...this.definitions.values()].map((definition) => ({
      name: definition.name,
      type: definition.type,
      handlers: Object.keys(definition.handlers).flatMap((name) => this.handlers.get(`${definition.name}.${name}`) ?? []),
    }));
  }

  names(): string[] {
    return [...this.definitions.keys()];
  }

  /**
   * How targets address `name` here (a workflow is addressed as an object: by key), or `undefined`
   * when this host serves no such thing: what tells a path's key segment from its handler segment.
   */
  typeOf(name: string): Target["type"] | undefined {
    const type = this.definitions.get(name)?.type;
    return type === "workflow" ? "object" : type;
  }

  /** The handler for a target, or a `TerminalError` that says what exists. */
  resolve(target: Target): ResolvedHandler | TerminalError {
    const label = `${target.name}.${target.handler}`;
    const definition = this.definitions.get(target.name);
    if (!definition) {
      return new TerminalError(`${label}: unknown object or service "${target.name}" (this host serves: ${this.names().join(", ") || "nothing"})`, {
        errorCode: 404,
      });
    }
    if (this.typeOf(target.name) !== target.type) {
      return new TerminalError(`${label}: "${target.name}" is ${definition.type === "service" ? "a service" : `a${definition.type === "object" ? "n object" : " workflow"}`}, but was addressed as ${target.type === "object" ? "an object" : "a service"}`, {
        errorCode: 400,
      });
    }
    const handler = this.handlers.get(label);
    if (!handler) {
      return new TerminalError(`${label}: unknown handler "${target.handler}" (${target.name} has: ${Object.keys(definition.handlers).join(", ")})`, {
        errorCode: 404,
      });
    }
    return handler;
  }
}
