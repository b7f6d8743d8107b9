import { type JetStreamClient, type ObjectStore, StorageType } from "nats";
import { decode, encode, namespaceToken } from "../../sdk/internal.js";
import type { PartitionSnapshot } from "../store/index.js";

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

  async read(name: string): Promise<PartitionSnapshot> {
    const bytes = await this.os.getBlob(name);
    if (!bytes) throw new Error(`snapshot ${name} is gone`);
    return decode(bytes) as PartitionSnapshot;
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
