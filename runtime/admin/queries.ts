import { z } from "zod";
import type { HealthView, HistoryEntryView, InvocationDetail, InvocationSummary, PartitionView, ServiceView, StateView, TimerView } from "./api.js";
import { type AdminSource, DEFAULT_HISTORY_LIMIT, DEFAULT_INVOCATION_LIMIT, DEFAULT_STATE_LIMIT, HistoryOffError } from "./inspector.js";

/**
 * The admin queries as messages (the NATS subjects `<namespace>.admin.<op>`): each op's request
 * body, parsed with zod by the host that answers, and what one host answers for its partitions.
 */
export const AdminOp = {
  Health: "health",
  Services: "services",
  Invocations: "invocations",
  Invocation: "invocation",
  State: "state",
  History: "history",
  Timers: "timers",
  Partitions: "partitions",
} as const;
export type AdminOp = (typeof AdminOp)[keyof typeof AdminOp];

/** Every status a filter may name. */
export const StatusSchema = z.enum(["queued", "running", "suspended", "backing-off", "paused", "failed", "succeeded"]);

export const AdminQuerySchemas = {
  health: z.object({}).strict(),
  services: z.object({}).strict(),
  invocations: z
    .object({ status: StatusSchema.optional(), object: z.string().min(1).optional(), key: z.string().optional(), limit: z.number().int().min(0).max(10_000).default(DEFAULT_INVOCATION_LIMIT) })
    .strict(),
  invocation: z.object({ id: z.string().min(1) }).strict(),
  state: z
    .object({ object: z.string().min(1), key: z.string(), offset: z.number().int().min(0).default(0), limit: z.number().int().min(0).max(10_000).default(DEFAULT_STATE_LIMIT) })
    .strict(),
  history: z.object({ object: z.string().min(1), key: z.string(), limit: z.number().int().min(0).max(10_000).default(DEFAULT_HISTORY_LIMIT) }).strict(),
  timers: z.object({ object: z.string().min(1).optional(), key: z.string().optional() }).strict(),
  partitions: z.object({}).strict(),
} satisfies Record<AdminOp, z.ZodType>;

export type AdminQuery<O extends AdminOp> = z.input<(typeof AdminQuerySchemas)[O]>;

/** What ONE host answers per op (`null`: not on its partitions). */
export interface AdminAnswers {
  health: HealthView;
  services: ServiceView[];
  invocations: InvocationSummary[];
  invocation: InvocationDetail | null;
  state: StateView | null;
  history: HistoryEntryView[] | null;
  timers: TimerView[];
  partitions: PartitionView[];
}

/** One host's reply on the wire: its answer, or why it has none (a bad request). */
export type AdminReply<O extends AdminOp> = { ok: true; hostId: string; answer: AdminAnswers[O] } | { ok: false; hostId: string; error: string };

export function isAdminOp(op: string): op is AdminOp {
  return Object.values(AdminOp).includes(op as AdminOp);
}

/** Answers one query from this host's partitions; throws a `ZodError` for a body that does not parse. */
export async function answerQuery(source: AdminSource, op: AdminOp, body: unknown): Promise<AdminAnswers[AdminOp]> {
  switch (op) {
    case "health":
      AdminQuerySchemas.health.parse(body);
      return source.health();
    case "services":
      AdminQuerySchemas.services.parse(body);
      return source.services();
    case "invocations":
      return source.invocations(AdminQuerySchemas.invocations.parse(body));
    case "invocation":
      return source.invocation(AdminQuerySchemas.invocation.parse(body).id) ?? null;
    case "state": {
      const { object, key, offset, limit } = AdminQuerySchemas.state.parse(body);
      return source.state(object, key, { offset, limit }) ?? null;
    }
    case "history": {
      const { object, key, limit } = AdminQuerySchemas.history.parse(body);
      try {
        return source.history(object, key, limit) ?? null;
      } catch (error) {
        // A host that keeps none has none to give; another one may own the key's partition.
        if (error instanceof HistoryOffError) return null;
        throw error;
      }
    }
    case "timers":
      return source.timers(AdminQuerySchemas.timers.parse(body));
    case "partitions":
      AdminQuerySchemas.partitions.parse(body);
      return source.partitions();
    default: {
      const unknownOp: never = op;
      throw new Error(`unknown admin op ${String(unknownOp)}`);
    }
  }
}
