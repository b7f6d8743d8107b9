import { type KV, type NatsConnection, RequestStrategy, connect } from "nats";
import { HostNatsConnectionSchema, type NatsConnectionOptions, natsClientOptions } from "../../../sdk/internal.js";
import {
  type AdminAnswers,
  type AdminOp,
  type AdminQuery,
  type AdminReader,
  type AdminReply,
  AdminRequestError,
  DEFAULT_INVOCATION_LIMIT,
  type HealthView,
  type HistoryEntryView,
  type InvocationDetail,
  type InvocationFilter,
  type InvocationSummary,
  type PartitionView,
  type ServiceView,
  type StateView,
  type TimerView,
  mergeAnswers,
} from "../../admin/index.js";
import { ConfigError } from "../../errors.js";
import { adminSubject } from "./admin-responder.js";
import { leaseBucketName, readLeases } from "./leases.js";

/** Options of {@link NatsAdminReader.connect}. */
export interface NatsAdminReaderOptions {
  /**
   * The servers and the HOSTS' credentials (`cairn-host` in nats-auth.conf): the admin subjects
   * are not open to callers. Its `inboxPrefix` defaults to the hosts' `_INBOX_cairn_host`.
   */
  nats: NatsConnectionOptions;
  /** @default "cairn" */
  namespace?: string;
  /** How long a query waits for every live host's answer; hosts that did not answer by then are left out. @default 2000 */
  maxWaitMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Reads a whole NATS namespace: asks every live host (the lease bucket's membership keys) on
 * `<namespace>.admin.<op>`, waits for one answer per host within `maxWaitMs`, and merges them.
 */
export class NatsAdminReader implements AdminReader {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly namespace: string,
    private readonly maxWaitMs: number,
  ) {}

  static async connect(options: NatsAdminReaderOptions): Promise<NatsAdminReader> {
    const parsed = HostNatsConnectionSchema.safeParse(options.nats);
    if (!parsed.success) throw new ConfigError(`admin reader: invalid nats options: ${parsed.error.message}`);
    const namespace = options.namespace ?? "cairn";
    const nc = await connect({ ...natsClientOptions(parsed.data, "cairn-admin"), maxReconnectAttempts: 2 });
    try {
      const kv = await nc.jetstream().views.kv(leaseBucketName(namespace), { bindOnly: true });
      return new NatsAdminReader(nc, kv, namespace, options.maxWaitMs ?? 2000);
    } catch (error) {
      await nc.close();
      throw new AdminRequestError(0, `namespace "${namespace}": no lease bucket (has a host of this namespace ever started, with these credentials?)`, { cause: error });
    }
  }

  /** One answer per live host that answered in time; a host that refused the query fails it. */
  private async gather<O extends AdminOp>(op: O, query: AdminQuery<O>): Promise<Array<AdminAnswers[O]>> {
    const { hosts } = await readLeases(this.kv);
    if (hosts.length === 0) return [];
    const replies = await this.nc.requestMany(adminSubject(this.namespace, op), encoder.encode(JSON.stringify(query)), {
      strategy: RequestStrategy.Count,
      maxMessages: hosts.length,
      maxWait: this.maxWaitMs,
    });
    const answers = new Map<string, AdminAnswers[O]>();
    for await (const msg of replies) {
      const reply = JSON.parse(decoder.decode(msg.data)) as AdminReply<O>;
      if (!reply.ok) throw new AdminRequestError(400, reply.error);
      answers.set(reply.hostId, reply.answer);
    }
    return [...answers.values()];
  }

  health(): Promise<HealthView[]> {
    return this.gather("health", {});
  }

  async services(): Promise<ServiceView[]> {
    return mergeAnswers.services(await this.gather("services", {}));
  }

  async invocations(filter: InvocationFilter = {}): Promise<InvocationSummary[]> {
    const limit = filter.limit ?? DEFAULT_INVOCATION_LIMIT;
    return mergeAnswers.invocations(await this.gather("invocations", { ...filter, limit }), limit);
  }

  async invocation(id: string): Promise<InvocationDetail | undefined> {
    return mergeAnswers.first(await this.gather("invocation", { id }));
  }

  async state(object: string, key: string, page: { offset?: number; limit?: number } = {}): Promise<StateView | undefined> {
    return mergeAnswers.first(await this.gather("state", { object, key, ...page }));
  }

  async history(object: string, key: string, limit?: number): Promise<HistoryEntryView[]> {
    return mergeAnswers.first(await this.gather("history", { object, key, ...(limit === undefined ? {} : { limit }) })) ?? [];
  }

  async timers(filter: { object?: string; key?: string } = {}): Promise<TimerView[]> {
    return mergeAnswers.timers(await this.gather("timers", filter));
  }

  async partitions(): Promise<PartitionView[]> {
    return mergeAnswers.partitions(await this.gather("partitions", {}));
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
