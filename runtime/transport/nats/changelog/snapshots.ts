import { type JetStreamClient, type ObjectStore, StorageType } from "nats";
import { encode, namespaceToken } from "../../../../sdk/internal.js";
import { CorruptPartitionDataError } from "../../../errors.js";
import type { PartitionSnapshot } from "../../../store/index.js";
import { SnapshotSchema, decodeChecked, upgradeSnapshot } from "./schemas.js";

const NAME = /^p(\d+)-(\d+)$/;

export function snapshotBucketName(namespace: string): string {
  return `${namespaceToken(namespace)}_snapshots`;
}

/**
 * Partition snapshots in a JetStream object store (`<namespace>_snapshots`), one object per
 * snapshot, named `p<partition>-<logSeq>`. Names carry the sequence so that a snapshot written
 * late by a former owner can never replace a newer one: a restore takes the highest.
 */
export class SnapshotStore {
  private constructor(private readonly os: ObjectStore) {}

  static async open(js: JetStreamClient, namespace: string, replicas = 1): Promise<SnapshotStore> {
    return new SnapshotStore(await js.views.os(snapshotBucketName(namespace), { storage: StorageType.File, replicas }));
  }

  /** The snapshots of `partition`, newest first. */
  async list(partition: number): Promise<Array<{ name: string; logSeq: number }>> {
    const found: Array<{ name: string; logSeq: number }> = [];
    for (const info of await this.os.list()) {
      const match = NAME.exec(info.name);
      if (match && Number(match[1]) === partition) found.push({ name: info.name, logSeq: Number(match[2]) });
    }
    return found.sort((a, b) => b.logSeq - a.logSeq);
  }

  /**
   * Reads a snapshot: `undefined` when it is gone (a newer one replaced it meanwhile); a
   * `CorruptPartitionDataError` when it is not a snapshot of `partition` as a host writes one.
   */
  async read(name: string, partition: number): Promise<PartitionSnapshot | undefined> {
    const bytes = await this.os.getBlob(name);
    if (!bytes) return undefined;
    const corrupt = (problem: string, cause?: unknown) =>
      new CorruptPartitionDataError(
        `partition ${partition}: snapshot ${name} is not a Cairn snapshot of this partition (${problem}); the partition stays stopped until it is repaired (see "Corrupt changelog entries and snapshots" in docs/architecture.md)`,
        { partition, cause },
      );
    const snapshot = decodeChecked(bytes, SnapshotSchema, corrupt) as PartitionSnapshot;
    if (snapshot.partition !== partition || `p${partition}-${snapshot.logSeq}` !== name) throw corrupt(`it holds partition ${snapshot.partition} at ${snapshot.logSeq}`);
    return upgradeSnapshot(snapshot);
  }

  /** Stores a snapshot and drops the ones it makes unnecessary. Returns its size in bytes. */
  async write(snapshot: PartitionSnapshot): Promise<number> {
    const bytes = encode(snapshot);
    await this.os.putBlob({ name: `p${snapshot.partition}-${snapshot.logSeq}` }, bytes);
    for (const older of await this.list(snapshot.partition)) {
      if (older.logSeq < snapshot.logSeq) await this.os.delete(older.name);
    }
    return bytes.byteLength;
  }
}
