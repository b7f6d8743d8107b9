import { type KV, type KvEntry, type NatsConnection, type QueuedIterator, StorageType } from "nats";
import type { Logger } from "pino";
import { z } from "zod";
import { type Target, namespaceToken } from "../../../sdk/internal.js";
import { ConfigError } from "../../errors.js";
import type { ServedService } from "../../invoke/index.js";
import { describeServedDiff, diffServed, isSameServed, onlyAdds } from "../../namespace/index.js";
import type { UnservedTargets } from "../../partition/index.js";
import { isWrongLastSequence } from "./jetstream-errors.js";

/** The key of the record in its bucket. */
export const SERVED_KEY = "served";

/** Compare-and-set rounds lost to other hosts before a start gives up: each loss means someone else wrote. */
const MAX_ROUNDS = 20;

const RecordSchema = z.object({
  services: z.array(
    z.object({
      name: z.string(),
      type: z.enum(["object", "service", "workflow"]),
      handlers: z.array(z.object({ name: z.string(), kind: z.enum(["exclusive", "shared", "service", "workflow"]) })),
    }),
  ),
});

export function namespaceBucketName(namespace: string): string {
  return `${namespaceToken(namespace)}_namespace`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeRecord(services: readonly ServedService[]): Uint8Array {
  return encoder.encode(JSON.stringify({ services }));
}

function decodeRecord(namespace: string, value: Uint8Array): ServedService[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(value));
  } catch {
    parsed = undefined;
  }
  const record = RecordSchema.safeParse(parsed);
  if (!record.success) {
    throw new ConfigError(
      `namespace "${namespace}": the record of what it serves (${namespaceBucketName(namespace)}/${SERVED_KEY}) is not one a host wrote; ` +
        `stop every host of the namespace and delete it (see "Namespace consistency" in docs/architecture.md)`,
    );
  }
  return record.data.services;
}

/** Reads what a namespace records that it serves; `undefined` before its first host started. */
export async function readServedRecord(nc: NatsConnection, namespace: string): Promise<ServedService[] | undefined> {
  const kv = await nc.jetstream().views.kv(namespaceBucketName(namespace), { bindOnly: true }).catch(() => undefined);
  const entry = await kv?.get(SERVED_KEY);
  return entry?.operation === "PUT" ? decodeRecord(namespace, entry.value) : undefined;
}

export interface NamespaceRecordOptions {
  nc: NatsConnection;
  namespace: string;
  /** What this host serves (`Registry.describe()`). */
  served: ServedService[];
  change: "refuse" | "add";
  replicas: number;
  log: Logger;
}

/**
 * The services and handlers a namespace serves, in a JetStream KV bucket (`<namespace>_namespace`,
 * key `served`). A host joining compares its own set with it: the first host writes it, a host whose
 * set differs does not start (`ConfigError`), and with `namespaceChange: "add"` a host serving a
 * superset writes the larger set. Writes are conditioned on the revision read, so two hosts adding
 * at once cannot lose each other's additions: the loser compares again against the winner's record.
 * Once joined, the record is watched, so this host knows what newer hosts serve.
 */
export class NamespaceRecord implements UnservedTargets {
  private services = new Map<string, ServedService>();
  private watcher: QueuedIterator<KvEntry> | undefined;
  /** Targets whose messages were found waiting for another host: logged once each. */
  private readonly waiting = new Set<string>();

  private constructor(private readonly options: NamespaceRecordOptions) {}

  /** Checks this host's set against the record, writes it when allowed, and watches the record from then on. */
  static async join(options: NamespaceRecordOptions): Promise<NamespaceRecord> {
    const record = new NamespaceRecord(options);
    const kv = await options.nc.jetstream().views.kv(namespaceBucketName(options.namespace), { history: 1, replicas: options.replicas, storage: StorageType.File });
    record.remember(await record.settle(kv));
    await record.watch(kv);
    return record;
  }

  waitsForAnotherHost(target: Target): boolean {
    const service = this.services.get(target.name);
    if (!service?.handlers.some((h) => h.name === target.handler)) return false;
    const label = `${target.name}.${target.handler}`;
    if (!this.waiting.has(label)) {
      this.waiting.add(label);
      this.options.log.warn({ target: label }, "target served by the namespace but not by this host; its messages wait for a host that serves it");
    }
    return true;
  }

  stop(): void {
    this.watcher?.stop();
  }

  /** The record this host agrees with, written by it if need be. */
  private async settle(kv: KV): Promise<ServedService[]> {
    const { namespace, served, change, log } = this.options;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const entry = await kv.get(SERVED_KEY);
      try {
        if (entry?.operation !== "PUT") {
          await kv.create(SERVED_KEY, encodeRecord(served));
          log.info({ services: served.map((s) => s.name) }, "namespace record written: this host is the namespace's first");
          return served;
        }
        const recorded = decodeRecord(namespace, entry.value);
        const diff = diffServed(recorded, served);
        if (isSameServed(diff)) return recorded;
        if (change === "refuse" || !onlyAdds(diff)) throw new ConfigError(describeServedDiff(namespace, diff, change));
        await kv.update(SERVED_KEY, encodeRecord(served), entry.revision);
        log.info({ added: diff.extra }, "namespace record extended: this host adds services or handlers (namespaceChange: add)");
        return served;
      } catch (error) {
        // Another host wrote first: compare again against what it wrote.
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    throw new Error(`namespace "${namespace}": the record of what it serves kept changing during ${MAX_ROUNDS} attempts to join it`);
  }

  private remember(services: readonly ServedService[]): void {
    this.services = new Map(services.map((s) => [s.name, s]));
  }

  private async watch(kv: KV): Promise<void> {
    const { namespace, log } = this.options;
    this.watcher = await kv.watch({ key: SERVED_KEY });
    void (async () => {
      for await (const entry of this.watcher ?? []) {
        if (entry.operation !== "PUT") continue;
        try {
          this.remember(decodeRecord(namespace, entry.value));
        } catch (err) {
          log.warn({ err }, "namespace record changed to something that does not decode; keeping the last one");
        }
      }
    })().catch((err: unknown) => log.warn({ err }, "namespace record watch ended; this host no longer learns what newer hosts serve"));
  }
}
