import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { type Target } from "../../sdk/internal.js";
import type { PartitionObserver } from "../partition/index.js";
import type { PartitionView } from "./api.js";
import type { Inspector } from "./inspector.js";

/** Latency buckets in seconds: 0.5 ms to 60 s. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const JOURNAL_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
/** How long one read of the partitions is reused: the gauges of one scrape. */
const SCRAPE_REUSE_MS = 200;
const STATUSES = ["queued", "running", "suspended", "backing-off", "paused"] as const;

function labels(target: Target): { object: string; handler: string } {
  return { object: target.name, handler: target.handler };
}

/** One handler's labelled series. */
interface HandlerSeries {
  keyQueueWait: { observe(value: number): void };
  handler: { observe(value: number): void };
  endToEnd: { observe(value: number): void };
  journal: { observe(value: number): void };
  succeeded: { inc(): void };
  failed: { inc(): void };
}

/**
 * One host's metrics, in a prom-client registry of its own (two hosts in one process count apart).
 * Counters and histograms are fed by the partitions' observers; gauges are read from the inspector
 * when scraped. Labels are object, handler, outcome, status and partition: never an object key.
 */
export class HostMetrics {
  readonly registry = new Registry();
  private readonly invocations: Counter<"object" | "handler" | "outcome">;
  private readonly inboxWait: Histogram;
  private readonly keyQueueWait: Histogram<"object" | "handler">;
  private readonly handler: Histogram<"object" | "handler">;
  private readonly commit: Histogram;
  private readonly publish: Histogram;
  private readonly endToEnd: Histogram<"object" | "handler">;
  private readonly changelogAppend: Histogram;
  private readonly journalEntries: Histogram<"object" | "handler">;
  private inspector: Inspector | undefined;

  constructor() {
    const registers = [this.registry];
    this.invocations = new Counter({ name: "cairn_invocations_total", help: "Invocations completed, by object, handler and outcome (succeeded, failed).", labelNames: ["object", "handler", "outcome"], registers });
    const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets = LATENCY_BUCKETS) => new Histogram<L>({ name, help, labelNames, buckets, registers });
    this.inboxWait = histogram("cairn_inbox_wait_seconds", "From the inbox accepting a message to its partition's processor receiving it.", []);
    this.keyQueueWait = histogram("cairn_key_queue_wait_seconds", "From an invocation reaching its partition to its start on its key's lane (waiting behind its key).", ["object", "handler"]);
    this.handler = histogram("cairn_handler_duration_seconds", "One run of a handler: to its end, a suspension or a failure.", ["object", "handler"]);
    this.commit = histogram("cairn_commit_duration_seconds", "A partition's commit (journal, changelog and LMDB write) until durable.", []);
    this.publish = histogram("cairn_publish_duration_seconds", "After a completion commits: releasing its sends, acking its message and answering its callers.", []);
    this.endToEnd = histogram("cairn_invocation_duration_seconds", "End to end in its partition: from reaching it to its completion committed and answered.", ["object", "handler"]);
    this.changelogAppend = histogram("cairn_changelog_append_duration_seconds", "A changelog append to JetStream (NATS mode), retries included.", []);
    this.journalEntries = histogram("cairn_journal_entries", "Journal entries of each completed invocation that had a journal.", ["object", "handler"], JOURNAL_BUCKETS);
    const metrics = this;
    new Gauge({
      name: "cairn_invocations",
      help: "Live invocations on this host's partitions, by status.",
      labelNames: ["status"],
      registers,
      collect() {
        const counts = metrics.inspector?.countByStatus();
        for (const status of STATUSES) this.set({ status }, counts?.get(status) ?? 0);
      },
    });
    new Gauge({
      name: "cairn_partitions_owned",
      help: "Partitions this host serves now.",
      registers,
      collect() {
        this.set(metrics.inspector?.health().ownedPartitions ?? 0);
      },
    });
    new Gauge({
      name: "cairn_outbox_backlog",
      help: "Committed sends not yet published, per owned partition (NATS mode; 0 in embedded mode).",
      labelNames: ["partition"],
      registers,
      async collect() {
        this.reset();
        for (const view of await metrics.partitionViews()) this.set({ partition: String(view.partition) }, view.outboxBacklog);
      },
    });
    new Gauge({
      name: "cairn_timers_pending",
      help: "Pending timers (delayed sends, durable sleeps, retry backoffs), per owned partition.",
      labelNames: ["partition"],
      registers,
      async collect() {
        this.reset();
        for (const view of await metrics.partitionViews()) this.set({ partition: String(view.partition) }, view.timers);
      },
    });
    new Gauge({
      name: "cairn_inbox_backlog",
      help: "Messages waiting in each owned partition's inbox.",
      labelNames: ["partition"],
      registers,
      async collect() {
        this.reset();
        for (const view of await metrics.partitionViews()) this.set({ partition: String(view.partition) }, view.inboxBacklog);
      },
    });
  }

  /** One read of the partitions serves the gauges of one scrape (in NATS mode it asks the server). */
  private scrape: Promise<PartitionView[]> | undefined;

  private partitionViews(): Promise<PartitionView[]> {
    if (!this.inspector) return Promise.resolve([]);
    if (!this.scrape) {
      const reading = this.inspector.partitions();
      this.scrape = reading;
      const forget = () => setTimeout(() => this.scrape === reading && (this.scrape = undefined), SCRAPE_REUSE_MS).unref();
      reading.then(forget, forget);
    }
    return this.scrape;
  }

  /** Where the gauges read from, once the host has it. */
  attach(inspector: Inspector): void {
    this.inspector = inspector;
  }

  /**
   * The labelled series of each handler, made once: prom-client hashes a label set on every
   * observation otherwise, a measurable share of an invocation's cost. Bounded by the handlers served.
   */
  private readonly series = new Map<string, HandlerSeries>();

  private seriesOf(target: Target): HandlerSeries {
    const id = `${target.name}\u0000${target.handler}`;
    let found = this.series.get(id);
    if (!found) {
      const names = labels(target);
      found = {
        keyQueueWait: this.keyQueueWait.labels(names),
        handler: this.handler.labels(names),
        endToEnd: this.endToEnd.labels(names),
        journal: this.journalEntries.labels(names),
        succeeded: this.invocations.labels({ ...names, outcome: "succeeded" }),
        failed: this.invocations.labels({ ...names, outcome: "failed" }),
      };
      this.series.set(id, found);
    }
    return found;
  }

  /** The observer a partition's processor reports to. */
  readonly observer: PartitionObserver = {
    inboxWait: (ms) => this.inboxWait.observe(ms / 1000),
    keyQueueWait: (envelope, ms) => this.seriesOf(envelope.target).keyQueueWait.observe(ms / 1000),
    handlerRun: (envelope, ms) => this.seriesOf(envelope.target).handler.observe(ms / 1000),
    commitDone: (ms) => this.commit.observe(ms / 1000),
    published: (ms) => this.publish.observe(ms / 1000),
    completed: (envelope, outcome, endToEndMs, journal) => {
      const series = this.seriesOf(envelope.target);
      (outcome === "succeeded" ? series.succeeded : series.failed).inc();
      series.endToEnd.observe(endToEndMs / 1000);
      if (journal) series.journal.observe(journal.size);
    },
  };

  /** Feeds the changelog-append histogram. */
  readonly changelogAppended = (ms: number): void => this.changelogAppend.observe(ms / 1000);

  /** The Prometheus text, and its content type. */
  readonly text = {
    contentType: this.registry.contentType,
    text: () => this.registry.metrics(),
  };
}
