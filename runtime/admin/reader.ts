import type {
  ControlAnswer,
  HealthView,
  HistoryEntryView,
  InvocationControl,
  InvocationDetail,
  InvocationFilter,
  InvocationSummary,
  PartitionView,
  ServiceView,
  StateView,
  TimerView,
} from "./api.js";
import { DEFAULT_INVOCATION_LIMIT } from "./inspector.js";

/**
 * What the `cairn` CLI reads, whatever it reads from: one host's admin endpoint over HTTP
 * ({@link HttpAdminReader}), or every host of a NATS namespace (`NatsAdminReader` in
 * runtime/transport/nats/, which merges one answer per live host).
 */
export interface AdminReader {
  /** Every host that answered: one for HTTP. */
  health(): Promise<HealthView[]>;
  services(): Promise<ServiceView[]>;
  invocations(filter?: InvocationFilter): Promise<InvocationSummary[]>;
  /** `undefined` when no host knows it. */
  invocation(id: string): Promise<InvocationDetail | undefined>;
  /** `undefined` when no host serves the key's partition now. */
  state(object: string, key: string, page?: { offset?: number; limit?: number }): Promise<StateView | undefined>;
  history(object: string, key: string, limit?: number): Promise<HistoryEntryView[]>;
  timers(filter?: { object?: string; key?: string }): Promise<TimerView[]>;
  partitions(): Promise<PartitionView[]>;
  close(): Promise<void>;
}

/** An admin endpoint's refusal or failure: `status` and its `{ code, message }` answer's message. */
export class AdminRequestError extends Error {
  override name = "AdminRequestError";
  readonly status: number;

  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

/** The merge rules of a namespace's answers (one per host), shared by every reader that gathers them. */
export const mergeAnswers = {
  services(perHost: readonly ServiceView[][]): ServiceView[] {
    const byName = new Map<string, ServiceView>();
    for (const services of perHost) {
      for (const service of services) {
        const known = byName.get(service.name);
        if (!known) byName.set(service.name, { ...service, hosts: [...service.hosts] });
        else known.hosts = [...new Set([...known.hosts, ...service.hosts])].sort();
      }
    }
    return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  },
  invocations(perHost: readonly InvocationSummary[][], limit: number): InvocationSummary[] {
    return perHost.flat().slice(0, limit);
  },
  timers(perHost: readonly TimerView[][]): TimerView[] {
    return perHost.flat().sort((a, b) => a.dueMs - b.dueMs);
  },
  /** A partition two hosts claim (a handover under way) is shown once, the higher epoch's. */
  partitions(perHost: readonly PartitionView[][]): PartitionView[] {
    const byPartition = new Map<number, PartitionView>();
    for (const view of perHost.flat()) {
      const known = byPartition.get(view.partition);
      if (!known || (view.epoch ?? 0) > (known.epoch ?? 0)) byPartition.set(view.partition, view);
    }
    return [...byPartition.values()].sort((a, b) => a.partition - b.partition);
  },
  first<T>(perHost: readonly (T | null)[]): T | undefined {
    return perHost.find((answer): answer is T => answer !== null) ?? undefined;
  },
};

/** Reads one host's admin endpoint (`host.adminUrl`, `cairn start --admin PORT`), with its bearer token when it has one. */
export class HttpAdminReader implements AdminReader, InvocationControl {
  private readonly base: string;

  constructor(
    url: string,
    private readonly options: { token?: string; timeoutMs?: number } = {},
  ) {
    this.base = url.replace(/\/+$/, "");
  }

  private async request<T>(method: "GET" | "POST", path: string, allow404 = false): Promise<T | undefined> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, { method, headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000) });
    } catch (error) {
      throw new AdminRequestError(0, `admin endpoint ${this.base}: no answer (${error instanceof Error ? error.message : String(error)}); is the host running with an admin port?`, { cause: error });
    }
    const text = await response.text();
    if (response.status === 404 && allow404) return undefined;
    if (!response.ok && !(path === "/health" && response.status === 503)) {
      let message = text;
      try {
        const body = JSON.parse(text) as { message?: unknown };
        if (typeof body.message === "string") message = body.message;
      } catch {
        // Not JSON: the text is the message.
      }
      throw new AdminRequestError(response.status, `admin endpoint ${this.base}${path}: ${response.status} ${message}`);
    }
    return JSON.parse(text) as T;
  }

  private async get<T>(path: string): Promise<T> {
    return (await this.request<T>("GET", path)) as T;
  }

  async health(): Promise<HealthView[]> {
    return [await this.get<HealthView>("/health")];
  }

  async services(): Promise<ServiceView[]> {
    return (await this.get<{ services: ServiceView[] }>("/api/services")).services;
  }

  async invocations(filter: InvocationFilter = {}): Promise<InvocationSummary[]> {
    const query = queryString({ status: filter.status, object: filter.object, key: filter.key, limit: filter.limit ?? DEFAULT_INVOCATION_LIMIT });
    return (await this.get<{ invocations: InvocationSummary[] }>(`/api/invocations${query}`)).invocations;
  }

  invocation(id: string): Promise<InvocationDetail | undefined> {
    return this.request<InvocationDetail>("GET", `/api/invocations/${encodeURIComponent(id)}`, true);
  }

  state(object: string, key: string, page: { offset?: number; limit?: number } = {}): Promise<StateView | undefined> {
    return this.request<StateView>("GET", `/api/state/${encodeURIComponent(object)}/${encodeURIComponent(key)}${queryString(page)}`, true);
  }

  async history(object: string, key: string, limit?: number): Promise<HistoryEntryView[]> {
    return (await this.get<{ history: HistoryEntryView[] }>(`/api/state/${encodeURIComponent(object)}/${encodeURIComponent(key)}/history${queryString({ limit })}`)).history;
  }

  async timers(filter: { object?: string; key?: string } = {}): Promise<TimerView[]> {
    return (await this.get<{ timers: TimerView[] }>(`/api/timers${queryString(filter)}`)).timers;
  }

  async partitions(): Promise<PartitionView[]> {
    return (await this.get<{ partitions: PartitionView[] }>("/api/partitions")).partitions;
  }

  async cancel(invocationId: string): Promise<void> {
    await this.control("cancel", invocationId);
  }

  async kill(invocationId: string): Promise<void> {
    await this.control("kill", invocationId);
  }

  async resume(invocationId: string): Promise<void> {
    await this.control("resume", invocationId);
  }

  private async control(op: "cancel" | "kill" | "resume", invocationId: string): Promise<ControlAnswer> {
    return (await this.request<ControlAnswer>("POST", `/api/invocations/${encodeURIComponent(invocationId)}/${op}`)) as ControlAnswer;
  }

  async close(): Promise<void> {
    // Nothing held: every request is its own.
  }
}

function queryString(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}
