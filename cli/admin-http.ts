// The admin endpoint's JSON API (runtime/admin/api.ts) read over HTTP, as the CLI needs it.
import type {
  ControlAnswer,
  HistoryEntryView,
  InvocationDetail,
  InvocationFilter,
  InvocationSummary,
  PartitionView,
  ServiceView,
  StateView,
  TimerView,
} from "../runtime/admin/api.js";
import { NotFoundError, ScriptError, UnreachableError } from "./errors.js";

export type ControlOp = "cancel" | "kill" | "resume";

/** What the read and control commands ask of a host or a namespace. */
export interface AdminReader {
  services(): Promise<ServiceView[]>;
  invocations(filter: InvocationFilter): Promise<InvocationSummary[]>;
  invocation(id: string): Promise<InvocationDetail>;
  control(op: ControlOp, id: string): Promise<ControlAnswer>;
  state(object: string, key: string, page: { offset: number; limit: number }): Promise<StateView>;
  history(object: string, key: string, limit: number): Promise<HistoryEntryView[]>;
  timers(filter: { object?: string; key?: string }): Promise<TimerView[]>;
  partitions(): Promise<PartitionView[]>;
  close(): Promise<void>;
}

/** The admin endpoint at `baseUrl` (`startHost({ admin: { port } })`), with its bearer token if one is set. */
export function httpAdminReader(baseUrl: string, token: string | undefined): AdminReader {
  const request = async <T>(method: "GET" | "POST", path: string, query: Record<string, string | number | undefined> = {}): Promise<T> => {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
    const url = `${baseUrl}${path}${params.size > 0 ? `?${params}` : ""}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetch(url, { method, headers, signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS) });
    } catch (error) {
      const reason = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new UnreachableError(`cannot reach the admin endpoint at ${baseUrl} (${reason}). Start the host with --admin PORT, or give its endpoint with --admin URL (or --nats URL for a namespace).`);
    }
    const text = await response.text();
    const body = parseJson(text);
    if (response.ok) return body as T;
    const message = isErrorBody(body) ? body.message : `${text.slice(0, 200)}`;
    switch (response.status) {
      case 401:
        throw new ScriptError(`the admin endpoint at ${baseUrl} wants a bearer token (401): give --token T or set CAIRN_ADMIN_TOKEN${message ? ` (${message})` : ""}`);
      case 404:
        throw new NotFoundError(message || `${method} ${path}: not found`);
      case 501:
        throw new ScriptError(`the host at ${baseUrl} does not serve ${method} ${path} yet (501 not implemented)${message ? `: ${message}` : ""}`);
      default:
        throw new ScriptError(`${method} ${path} failed with ${response.status}${message ? `: ${message}` : ""}`);
    }
  };
  const path = (...parts: string[]) => `/${parts.map(encodeURIComponent).join("/")}`;
  return {
    services: async () => (await request<{ services: ServiceView[] }>("GET", "/api/services")).services,
    invocations: async (filter) => (await request<{ invocations: InvocationSummary[] }>("GET", "/api/invocations", { ...filter })).invocations,
    invocation: (id) => request<InvocationDetail>("GET", path("api", "invocations", id)),
    control: (op, id) => request<ControlAnswer>("POST", path("api", "invocations", id, op)),
    state: (object, key, page) => request<StateView>("GET", path("api", "state", object, key), page),
    history: async (object, key, limit) => (await request<{ history: HistoryEntryView[] }>("GET", path("api", "state", object, key, "history"), { limit })).history,
    timers: async (filter) => (await request<{ timers: TimerView[] }>("GET", "/api/timers", filter)).timers,
    partitions: async () => (await request<{ partitions: PartitionView[] }>("GET", "/api/partitions")).partitions,
    close: async () => undefined,
  };
}

/** How long one admin request may take: they read local tables, so anything longer is a stuck host. */
const ADMIN_TIMEOUT_MS = 10_000;

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isErrorBody(body: unknown): body is { code: number; message: string } {
  return typeof body === "object" && body !== null && "code" in body && typeof body.code === "number" && "message" in body && typeof body.message === "string";
}
