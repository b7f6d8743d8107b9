import { connect as natsConnect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FencedError, PartitionLog, ensureLogStream } from "../runtime/transport/nats/index.js";
import { uniqueNamespace } from "./helpers/host.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

let nats: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await startNatsServer();
  nc = await natsConnect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

async function readAll(log: PartitionLog, afterSeq = 0): Promise<string[]> {
  const out: string[] = [];
  for await (const record of log.read(afterSeq)) out.push(text(record.data));
  return out;
}

describe("partition changelog", () => {
  it("fences a writer that another writer has overtaken, and keeps every accepted record in order", async () => {
    const namespace = uniqueNamespace("log");
    const jsm = await nc.jetstreamManager();
    const js = nc.jetstream();
    await ensureLogStream(jsm, namespace);
    const old = await PartitionLog.open(jsm, js, namespace, 3);
    const rival = await PartitionLog.open(jsm, js, namespace, 3);
    await old.append(bytes("a1"));
    // Even the first record is fenced: both opened an empty log, only one may write to it.
    expect(await rival.append(bytes("r1")).catch((e: unknown) => e)).toBeInstanceOf(FencedError);
    await old.append(bytes("a2"));

    // A new owner opens the log at its end and appends; the old owner has not noticed yet.
    const next = await PartitionLog.open(jsm, js, namespace, 3);
    expect(next.position).toBe(old.position);
    await next.append(bytes("b1"));
    const fenced = await old.append(bytes("a3")).catch((e: unknown) => e);
    expect(fenced).toBeInstanceOf(FencedError);

    // Other partitions are separate logs with their own fences.
    const other = await PartitionLog.open(jsm, js, namespace, 4);
    await other.append(bytes("c1"));
    await next.append(bytes("b2"));

    const reader = await PartitionLog.open(jsm, js, namespace, 3);
    expect(await readAll(reader)).toEqual(["a1", "a2", "b1", "b2"]);
    const [, second] = await (async () => {
      const seqs: number[] = [];
      for await (const r of reader.read()) seqs.push(r.seq);
      return seqs;
    })();
    expect(await readAll(reader, second)).toEqual(["b1", "b2"]);
  });
});
