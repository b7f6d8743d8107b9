import type { Logger } from "pino";
import type { CairnClient } from "../sdk/client/index.js";
import type { Clock } from "./clock.js";
import type { HostConfig } from "./config.js";
import type { PartitionOwnership, PartitionWorker, ProcessorFactory, Replier, Router, WorkerCensus } from "./partition/index.js";
import type { Store } from "./store/index.js";
import type { AdminSource, TransportStats } from "./admin/index.js";

/** Things to stop when the host closes, in reverse order of starting. */
export interface StopStack {
  push(stop: () => Promise<void> | void): void;
}

/** What a host's mode provides: NATS (runtime/transport/nats/) or embedded (runtime/transport/local/). */
export interface HostTransport {
  readonly ownership: PartitionOwnership;
  readonly router: Router;
  readonly replier: Replier;
  /** `host.client`. */
  readonly client: CairnClient;
  /** A worker for one partition and ownership epoch. */
  worker(partition: number, epoch: number, processor: ProcessorFactory): PartitionWorker;
  /** After a partition's worker stopped: a handoff first publishes what it committed (NATS). */
  released(partition: number, how: "handoff" | "lost"): Promise<void>;
  /** Per owned partition: messages waiting in its inbox, and its changelog's entries since the last snapshot (0 without one). */
  stats(partitions: readonly number[]): Promise<Map<number, TransportStats>>;
  /** Answers the admin queries for this host's partitions over the transport (NATS subjects); embedded mode has none. */
  serveAdmin(source: AdminSource): Promise<void>;
}

/** What the host lends its transport while it starts. */
export interface TransportContext {
  config: HostConfig;
  store: Store;
  hostId: string;
  census: WorkerCensus;
  clock: Clock;
  /** Aborted when the host's grace period is over. */
  signal: AbortSignal;
  stack: StopStack;
  log: Logger;
  /** Hears how long each changelog append took (ms). */
  onChangelogAppend?: (ms: number) => void;
}
