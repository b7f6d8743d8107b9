import { connect as natsConnect, type NatsConnection } from "nats";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OutboxRelay } from "../runtime/transport/nats/index.js";
import { type CommitRecord, type OutboxEntry, Store } from "../runtime/store/index.js";
import { ensureInboxStream } from "../runtime/transport/nats/index.js";
import { JetStreamPublisher, encode, inboxStreamName, newInvocationId } from "../sdk/internal.js";
import { tempDir, uniqueNamespace } from "./helpers/host.js";
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

/** Resolves true once `work` settles, false if `ms` pass first. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([work.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return settled;
}

describe("outbox relay", () => {
  it("publishes and forgets the good entries of a batch holding one that can never be published, and drops that one with an error", async () => {
    const namespace = uniqueNamespace("relay");
    const jsm = await nc.jetstreamManager();
    await ensureInboxStream(jsm, namespace, 4);
    const store = new Store(tempDir());
    const lines: Array<{ level: number; msg: string; partition?: number; target?: string }> = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const publisher = new JetStreamPublisher(nc, { ackTimeoutMs: 3000 });
    const relay = new OutboxRelay(publisher, store, namespace, log);
    try {
      const entry = (key: string): OutboxEntry => ({
        partition: 2,
        envelope: { invocationId: newInvocationId(), target: { type: "object", name: "Probe", key, handler: "append" } },
        data: encode(key),
      });
      // A commit made before ctx.objectSendClient refused such keys (or read from an older changelog).
      const entries = [entry("first"), entry("lone\uD800surrogate"), entry("last")];
      const record: CommitRecord = {
        partition: 2,
        invocationId: newInvocationId(),
        completion: { outcome: { ok: true, value: encode(null) }, expiresAtMs: Date.now() + 60_000 },
        stateWrites: [],
        outbox: entries,
        position: 1,
      };
      const [keys = []] = await store.applyLogged(2, 1, [record]);
      relay.add(keys.map((key, i) => ({ key, entry: entries[i] as OutboxEntry })));

      expect(await within(relay.drainPartition(2), 10_000)).toBe(true);
      const stream = await jsm.streams.get(inboxStreamName(namespace));
      expect((await stream.info()).state.messages).toBe(2);
      const published = [1, 2].map(async (seq) => (await stream.getMessage({ seq })).header.get("Cairn-Invocation-Id"));
      expect(await Promise.all(published)).toEqual([entries[0]?.envelope.invocationId, entries[2]?.envelope.invocationId]);
      expect(store.readOutbox(2)).toEqual([]);
      const errors = lines.filter((line) => line.level === 50);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ msg: "outbox entry cannot be published; dropped", partition: 2, target: expect.stringMatching(/^Probe\/lone.*surrogate\/append$/) });
    } finally {
      relay.stop();
      publisher.close();
      await store.close();
    }
  });
});
