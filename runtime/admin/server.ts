import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { Logger } from "pino";
import { z } from "zod";
import { HttpError, errorAnswer, listen, requireBearer, resultJson } from "../ingress/index.js";
import type { ControlAnswer, InvocationControl, InvocationFilter } from "./api.js";
import { consoleResponse } from "./console/index.js";
import { type AdminSource, DEFAULT_HISTORY_LIMIT, DEFAULT_INVOCATION_LIMIT, DEFAULT_STATE_LIMIT, HistoryOffError } from "./inspector.js";
import { StatusSchema } from "./queries.js";

/** What `/metrics` serves. */
export interface MetricsText {
  readonly contentType: string;
  text(): Promise<string>;
}

/** Options of `startAdmin`. */
export interface AdminOptions {
  /** What the `/api/…` routes and `/health` read. */
  source: AdminSource;
  metrics: MetricsText;
  /** `cancel`, `kill` and `resume`; without it those routes answer 501. */
  control: InvocationControl | undefined;
  /** TCP port; 0 picks a free one (read it from `url`). */
  port: number;
  /** Interface to bind. @default "127.0.0.1" */
  host?: string;
  /** Every route but `/health` requires `Authorization: Bearer <token>`. @default no token */
  token?: string;
  logger: Logger;
}

/** A running admin endpoint. */
export interface Admin {
  /** Its base URL, such as `http://127.0.0.1:9070`. */
  readonly url: string;
  close(): Promise<void>;
}

const JSON_TYPE = "application/json; charset=utf-8";
const CONTROL_OPS = ["cancel", "kill", "resume"] as const;
type ControlOp = (typeof CONTROL_OPS)[number];

const Count = (max: number) => z.coerce.number().int().min(0).max(max);
const InvocationQuerySchema = z.object({
  status: StatusSchema.optional(),
  object: z.string().min(1).optional(),
  key: z.string().optional(),
  limit: Count(10_000).optional(),
});
const PageSchema = z.object({ offset: Count(Number.MAX_SAFE_INTEGER).default(0), limit: Count(10_000).default(DEFAULT_STATE_LIMIT) });
const HistoryQuerySchema = z.object({ limit: Count(10_000).default(DEFAULT_HISTORY_LIMIT) });
const TimersQuerySchema = z.object({ object: z.string().min(1).optional(), key: z.string().optional() });

function parseQuery<T extends z.ZodType>(schema: T, params: URLSearchParams): z.output<T> {
  const parsed = schema.safeParse(Object.fromEntries(params));
  if (!parsed.success) throw new HttpError(400, `invalid query: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** A path segment, decoded: `%2F` in a key is a `/` of the key. */
function segment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, `path segment "${raw}" is not valid percent-encoding`);
  }
}

/**
 * Starts the admin endpoint (loopback by default): `/health`, `/metrics` and the JSON routes of
 * `/api/…` the `cairn` CLI and the web console read. Errors are `{ "code": status, "message": … }`
 * as the ingress answers them.
 */
export async function startAdmin(options: AdminOptions): Promise<Admin> {
  const { source, metrics, control } = options;
  const bindHost = options.host ?? "127.0.0.1";
  const log = options.logger.child({ component: "admin" });

  const route = async (req: IncomingMessage, url: URL): Promise<[status: number, body: string, type?: string]> => {
    const method = req.method ?? "GET";
    const path = url.pathname;
    if (path === "/health") {
      allow(method, "GET");
      const health = source.health();
      return [health.status === "ready" ? 200 : 503, JSON.stringify(health)];
    }
    requireBearer(req, options.token);
    if (path === "/metrics") {
      allow(method, "GET");
      return [200, await metrics.text(), metrics.contentType];
    }
    const parts = path.split("/").filter((p) => p.length > 0);
    if (parts[0] !== "api") throw new HttpError(404, `no such route: ${path} (the admin API is under /api/…)`);
    const [, resource, ...rest] = parts;
    switch (resource) {
      case "services":
        allow(method, "GET");
        if (rest.length > 0) break;
        return [200, JSON.stringify({ services: source.services() })];
      case "invocations": {
        if (rest.length === 0) {
          allow(method, "GET");
          const filter: InvocationFilter = parseQuery(InvocationQuerySchema, url.searchParams);
          return [200, resultJson({ invocations: source.invocations({ ...filter, limit: filter.limit ?? DEFAULT_INVOCATION_LIMIT }) })];
        }
        const id = segment(rest[0] ?? "");
        if (rest.length === 1) {
          allow(method, "GET");
          const detail = source.invocation(id);
          if (!detail) throw new HttpError(404, `invocation ${id}: not found (not live on this host's partitions, and no completion within the idempotency window)`);
          return [200, resultJson(detail)];
        }
        const op = rest[1];
        if (rest.length === 2 && isControlOp(op)) {
          allow(method, "POST");
          return [202, JSON.stringify(await runControl(control, op, id))];
        }
        break;
      }
      case "state": {
        if (rest.length < 2 || rest.length > 3) break;
        allow(method, "GET");
        const object = segment(rest[0] ?? "");
        const key = segment(rest[1] ?? "");
        if (rest.length === 3) {
          if (rest[2] !== "history") break;
          const { limit } = parseQuery(HistoryQuerySchema, url.searchParams);
          let history: ReturnType<AdminSource["history"]>;
          try {
            history = source.history(object, key, limit);
          } catch (error) {
            if (error instanceof HistoryOffError) throw new HttpError(404, error.message);
            throw error;
          }
          if (!history) throw new HttpError(404, `history of ${object}/${key}: its partition is not served by this host`);
          return [200, resultJson({ history })];
        }
        const page = parseQuery(PageSchema, url.searchParams);
        const state = source.state(object, key, page);
        if (!state) throw new HttpError(404, `state of ${object}/${key}: its partition is not served by this host`);
        return [200, resultJson(state)];
      }
      case "timers":
        allow(method, "GET");
        if (rest.length > 0) break;
        return [200, resultJson({ timers: source.timers(parseQuery(TimersQuerySchema, url.searchParams)) })];
      case "partitions":
        allow(method, "GET");
        if (rest.length > 0) break;
        return [200, JSON.stringify({ partitions: await source.partitions() })];
      default:
        break;
    }
    throw new HttpError(404, `no such route: ${path}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? "/", "http://admin");
      const page = req.method === "GET" ? consoleResponse(url.pathname) : undefined;
      if (page) return reply(res, page.status, page.body, page.type, page.headers);
      const [status, body, type] = await route(req, url);
      reply(res, status, body, type);
    } catch (error) {
      const answer = errorAnswer(error, undefined);
      if (answer.unexpected) log.error({ err: error, method: req.method, url: req.url }, "admin request failed");
      reply(res, answer.status, JSON.stringify({ code: answer.status, message: answer.message }), JSON_TYPE, answer.headers);
    }
  };

  const server: Server = createServer({ requestTimeout: 30_000 }, (req, res) => {
    // Nothing here reads a body: what a POST sends is drained and ignored.
    req.resume();
    void handle(req, res).catch((error: unknown) => {
      log.error({ err: error }, "admin request handler failed");
      res.destroy();
    });
  });
  const url = await listen(server, options.port, bindHost, "admin");
  log.info({ url }, "admin endpoint listening");
  let closed: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function reply(res: ServerResponse, status: number, body: string, type = JSON_TYPE, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function allow(method: string, allowed: "GET" | "POST"): void {
  if (method !== allowed) throw new HttpError(405, `${method} is not allowed here; use ${allowed}`, { headers: { allow: allowed } });
}

function isControlOp(op: string | undefined): op is ControlOp {
  return (CONTROL_OPS as readonly (string | undefined)[]).includes(op);
}

async function runControl(control: InvocationControl | undefined, op: ControlOp, invocationId: string): Promise<ControlAnswer> {
  if (!control) throw new HttpError(501, `${op}: invocation control is not available in this version of the host`);
  switch (op) {
    case "cancel":
      await control.cancel(invocationId);
      break;
    case "kill":
      await control.kill(invocationId);
      break;
    case "resume":
      await control.resume(invocationId);
      break;
    default: {
      const unknownOp: never = op;
      throw new Error(`unknown control ${String(unknownOp)}`);
    }
  }
  return { invocationId, accepted: true };
}
