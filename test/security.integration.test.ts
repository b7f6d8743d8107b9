import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { type MsgHdrs, type NatsConnection, connect as natsConnect, createInbox } from "nats";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TerminalError } from "cairn";
import { type CairnClient, connect } from "cairn/client";
import { type Host, startHost } from "cairn/runtime";
import { decodeLogEntry, encodeLogEntry, inspectChangelog, logStreamName, logSubject, skipCorruptEntries, snapshotBucketName } from "../runtime/transport/nats/index.js";
import { leaseBucketName } from "../runtime/transport/nats/index.js";
import { Header, decode, encode, envelopeHeaders, idempotentInvocationId, newInvocationId, partitionOf, targetLabel } from "../sdk/internal.js";
import { probe } from "./fixtures/probe.js";
import { eventually, tempDir, untilAcknowledged } from "./helpers/host.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

// Everything here runs against a server with the users and permissions Cairn ships
// (nats-auth.conf), and the namespace they are written for.
const NAMESPACE = "cairn";
const PARTITIONS = 4;

let nats: NatsServer;
let host: Host;
let client: CairnClient;
/** A plain NATS connection as the client user: what a hostile caller has. */
let attacker: NatsConnection;
/** The host user's connection, to look at what the attacker could or could not change. */
let admin: NatsConnection;
const logLines: string[] = [];

beforeAll(async () => {
  nats = await startNatsServer({ auth: true });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  host = await startHost({ services: [probe], dataDir: tempDir(), nats: nats.host, partitions: PARTITIONS, leaseTtlMs: 2000, logger: pino({ level: "warn" }, sink) });
  client = await connect({ ...nats.client, timeoutMs: 5000 });
  attacker = await natsConnect({ servers: nats.url, user: nats.client.user, pass: nats.client.pass });
  admin = await natsConnect({ servers: nats.url, user: nats.host.user, pass: nats.host.pass });
});

afterAll(async () => {
  await attacker?.close();
  await admin?.close();
  await client?.close();
  await host?.close();
  await nats?.stop();
});

/** A key of `Probe` on partition `p`, and a different one for each `n`. */
function keyOn(p: number, n = 0): string {
  for (let i = 0, found = 0; ; i++) {
    const key = `k${i}`;
    if (partitionOf("Probe", key, PARTITIONS) === p && found++ === n) return key;
  }
}

async function rejects(work: Promise<unknown>): Promise<string> {
  const outcome = await work.then(
    () => "resolved",
    (error: unknown) => String(error),
  );
  expect(outcome).not.toBe("resolved");
  return outcome;
}

async function lastLogSeq(p: number): Promise<number> {
  const jsm = await admin.jetstreamManager();
  return (await jsm.streams.getMessage(logStreamName(NAMESPACE), { last_by_subj: logSubject(NAMESPACE, p) })).seq;
}

/** Publishes a raw inbox message as the attacker and waits up to `ms` for an answer on its own inbox. */
async function rawCall(headers: MsgHdrs, subject: string, data: Uint8Array, replySubject?: string, ms = 3000): Promise<unknown> {
  const reply = replySubject ?? createInbox();
  const sub = attacker.subscribe(reply, { max: 1, timeout: ms });
  attacker.publish(subject, data, { headers });
  for await (const msg of sub) return decode(msg.data);
  return undefined;
}

describe("credentials (item 6)", () => {
  it("runs a host and a client on a server that requires users, and both are refused without credentials", async () => {
    expect(await client.objectClient(probe, "auth").append(1)).toBeNull();
    expect(await client.objectClient(probe, "auth").list()).toEqual([1]);
    expect(await rejects(connect({ servers: nats.url }))).toMatch(/Authorization Violation/i);
    expect(await rejects(startHost({ services: [probe], dataDir: tempDir(), nats: { servers: nats.url }, logLevel: "silent" }))).toMatch(/Authorization Violation/i);
  });

  it("refuses unknown or contradictory connection options instead of dropping them", async () => {
    expect(await rejects(connect({ servers: nats.url, password: "x" } as never))).toMatch(/password/);
    expect(await rejects(connect({ servers: nats.url, user: "u" }))).toMatch(/user needs pass/);
    expect(await rejects(connect({ servers: nats.url, token: "t", credsFile: "/nope" }))).toMatch(/one way to authenticate/);
    expect(await rejects(startHost({ services: [probe], dataDir: tempDir(), nats: { servers: nats.url, passwd: "x" } as never }))).toMatch(/passwd/);
  });
});

describe("what a client may not do under the shipped permissions (item 7)", () => {
  it("cannot append a forged commit or junk to a changelog", async () => {
    const p = partitionOf("Probe", "victim", PARTITIONS);
    await client.objectClient(probe, "victim").append(1);
    const before = await lastLogSeq(p);
    const forged = encodeLogEntry({
      type: "commit",
      hostId: host.hostId,
      epoch: 1,
      prev: before,
      records: [
        {
          partition: p,
          invocationId: newInvocationId(),
          completion: { outcome: { ok: true, value: encode(null) }, expiresAtMs: Date.now() + 60_000 },
          stateWrites: [{ type: "set", object: "Probe", key: "victim", name: "list", value: encode([666]) }],
          outbox: [],
          position: 0,
        },
      ],
    });
    const js = attacker.jetstream();
    expect(await rejects(js.publish(logSubject(NAMESPACE, p), forged, { timeout: 2000 }))).toMatch(/permission|timeout|503/i);
    expect(await rejects(js.publish(logSubject(NAMESPACE, p), randomBytes(64), { timeout: 2000 }))).toMatch(/permission|timeout|503/i);
    expect(await lastLogSeq(p)).toBe(before);
    // Nor read one: the changelog holds every key's state.
    expect(await rejects((await attacker.jetstreamManager({ checkAPI: false })).streams.getMessage(logStreamName(NAMESPACE), { seq: 1 }))).toMatch(/permission|timeout|503/i);
    await client.objectClient(probe, "victim").append(2);
    expect(await client.objectClient(probe, "victim").list()).toEqual([1, 2]);
  });

  it("cannot overwrite leases or add hosts", async () => {
    const bucket = leaseBucketName(NAMESPACE);
    for (const key of ["p.0", "p.1", "h.fake-host"]) {
      const value = new TextEncoder().encode(JSON.stringify({ hostId: "fake-host", epoch: 1 }));
      expect(await rejects(attacker.request(`$KV.${bucket}.${key}`, value, { timeout: 1500 }))).toMatch(/permission|timeout|503/i);
    }
    expect(await rejects(attacker.jetstream().views.kv(bucket, { bindOnly: true }).then((kv) => kv.put("p.2", new Uint8Array(1))))).toMatch(/permission|timeout|503/i);
    const leases = await host.assignment();
    expect(leases.map((l) => l.hostId)).toEqual(Array(PARTITIONS).fill(host.hostId));
    expect(host.ownedPartitions()).toHaveLength(PARTITIONS);
  });

  it("cannot write a snapshot", async () => {
    const bucket = snapshotBucketName(NAMESPACE);
    expect(await rejects(attacker.request(`$O.${bucket}.C.forged`, randomBytes(32), { timeout: 1500 }))).toMatch(/permission|timeout|503/i);
    expect(await rejects(attacker.request(`$O.${bucket}.M.cDAtOTk5OTk`, randomBytes(32), { timeout: 1500 }))).toMatch(/permission|timeout|503/i);
    expect(await rejects(attacker.jetstream().views.os(bucket).then((os) => os.putBlob({ name: "p0-999999" }, randomBytes(32))))).toMatch(/permission|timeout|503/i);
    const info = await (await admin.jetstreamManager()).streams.info(`OBJ_${bucket}`);
    expect(info.state.messages).toBe(0);
  });
});

describe("what a client may not reach through JetStream's own acknowledgements (item 7)", () => {
  it("cannot aim the PubAck of its publish at a changelog, a lease or a snapshot", async () => {
    const p = partitionOf("Probe", "acked", PARTITIONS);
    await client.objectClient(probe, "acked").append(1);
    const jsm = await admin.jetstreamManager();
    const state = async () => ({
      log: (await jsm.streams.info(logStreamName(NAMESPACE))).state.last_seq,
      leases: (await jsm.streams.info(`KV_${leaseBucketName(NAMESPACE)}`)).state.last_seq,
      snapshots: (await jsm.streams.info(`OBJ_${snapshotBucketName(NAMESPACE)}`)).state.last_seq,
    });
    const before = await state();
    // JetStream answers a publish on its reply subject itself, as the server: no user permission
    // applies to that answer. Only the accounts of nats-auth.conf keep it away from the hosts' streams.
    for (const reply of [logSubject(NAMESPACE, p), `$KV.${leaseBucketName(NAMESPACE)}.p.${p}`, `$O.${snapshotBucketName(NAMESPACE)}.M.cDA`]) {
      attacker.publish(`${NAMESPACE}.in.${p}`, encode(1), { reply });
    }
    await attacker.flush();
    await client.objectClient(probe, "acked").append(2);
    expect(await client.objectClient(probe, "acked").list()).toEqual([1, 2]);
    const after = await state();
    // Leases are renewed meanwhile; every entry written since must be a host's lease, no PubAck.
    for (let seq = before.leases + 1; seq <= after.leases; seq++) {
      const entry = await jsm.streams.getMessage(`KV_${leaseBucketName(NAMESPACE)}`, { seq }).catch(() => undefined);
      if (entry?.data.length) expect(JSON.parse(new TextDecoder().decode(entry.data))).toHaveProperty("hostId");
    }
    expect(after.snapshots).toBe(before.snapshots);
    // Every changelog entry written since is a host's (append(2)'s commit), none a PubAck.
    expect(after.log).toBeGreaterThan(before.log);
    for (let seq = before.log + 1; seq <= after.log; seq++) {
      const entry = await jsm.streams.getMessage(logStreamName(NAMESPACE), { seq });
      expect(entry.subject).toBe(logSubject(NAMESPACE, p));
      expect(decodeLogEntry(entry.data, seq, p).hostId).toBe(host.hostId);
    }
    expect(host.ownedPartitions()).toHaveLength(PARTITIONS);
  });

  it("cannot read the hosts' own JetStream answers, which hold state", async () => {
    const seen: string[] = [];
    const sub = attacker.subscribe("_INBOX.>", { callback: (_err, msg) => seen.push(msg.subject) });
    await attacker.flush();
    // The host reads every lease from the bucket: a dozen JetStream requests and their answers.
    await host.assignment();
    await attacker.flush();
    sub.unsubscribe();
    expect(seen).toEqual([]);
    const refused = await new Promise<string>((resolve) => {
      attacker.subscribe("_INBOX_cairn_host.>", { callback: (err) => resolve(String(err)) });
      setTimeout(() => resolve("no error"), 2000);
    });
    expect(refused).toMatch(/permission/i);
  });
});

describe("reply subjects (item 8)", () => {
  it("never publishes a reply outside the clients' inboxes, its own changelog least of all", async () => {
    const p = partitionOf("Probe", "victim", PARTITIONS);
    const before = await lastLogSeq(p);
    const headers = envelopeHeaders({
      invocationId: newInvocationId(),
      // An unknown handler: the host answers it with an error at once, which is what the attack needs.
      target: { type: "object", name: "Probe", key: "victim", handler: "noSuchHandler" },
      replyTo: { kind: "nats", subject: logSubject(NAMESPACE, p), callId: "c" },
    });
    attacker.publish(`${NAMESPACE}.in.${p}`, encode(1), { headers });
    await attacker.flush();
    // The message is settled (refused) without writing anything: later calls of the partition go on.
    await client.objectClient(probe, "victim").append(3);
    expect(await client.objectClient(probe, "victim").list()).toEqual([1, 2, 3]);
    const jsm = await admin.jetstreamManager();
    for (let seq = before + 1; seq <= (await lastLogSeq(p)); seq++) {
      const msg = await jsm.streams.getMessage(logStreamName(NAMESPACE), { seq }).catch(() => undefined);
      if (msg?.subject === logSubject(NAMESPACE, p)) expect(() => decodeLogEntry(msg.data, seq, p)).not.toThrow();
    }
    expect(logLines.some((line) => line.includes("is not a reply subject of a client"))).toBe(true);
  });
});

describe("invocation ids (item 9)", () => {
  it("answers a completed invocation's id only for the same target and handler", async () => {
    const target = { type: "object" as const, name: "Probe", key: "carol", handler: "append" };
    await client.objectClient(probe, "carol").append(7, { idempotencyKey: "carol-1" });
    const invocationId = idempotentInvocationId(targetLabel(target), "carol-1");
    const reply = createInbox();
    const headers = envelopeHeaders({ invocationId, target: { ...target, handler: "list" }, replyTo: { kind: "nats", subject: reply, callId: "c" } });
    const answer = (await rawCall(headers, `${NAMESPACE}.in.${partitionOf("Probe", "carol", PARTITIONS)}`, new Uint8Array(), reply)) as {
      ok: boolean;
      error?: { message: string; code: number };
    };
    expect(answer).toMatchObject({ ok: false, error: { code: 409 } });
    expect(answer.error?.message).toMatch(/was already used for Probe\/carol\/append/);
    // The real caller's retry still gets its own result.
    expect(await client.objectClient(probe, "carol").append(7, { idempotencyKey: "carol-1" })).toBeNull();
    expect(await client.objectClient(probe, "carol").list()).toEqual([7]);
  });

  it("does not let a stray message that reuses a send's id make JetStream drop the real send", async () => {
    const target = { type: "object" as const, name: "Probe", key: "dave", handler: "append" };
    const invocationId = idempotentInvocationId(targetLabel(target), "dave-1");
    const p = partitionOf("Probe", "dave", PARTITIONS);
    // Junk with the send's invocation id as its message id (what the id used to be), and with the
    // new kind of id computed for other content: neither may take the real send's place.
    for (const msgId of [invocationId, envelopeHeaders({ invocationId, target }, encode(666)).get(Header.MsgId)]) {
      const junk = envelopeHeaders({ invocationId: newInvocationId(), target: { ...target, handler: "noSuchHandler" } });
      junk.set(Header.MsgId, msgId);
      await attacker.jetstream().publish(`${NAMESPACE}.in.${p}`, encode(666), { headers: junk });
    }
    await client.objectSendClient(probe, "dave").append(5, { idempotencyKey: "dave-1" });
    const list = client.objectClient(probe, "dave").list;
    expect(await eventually(async () => (await list()).length > 0, 10_000)).toBe(true);
    expect(await list()).toEqual([5]);
  });
});

describe("corrupt changelog entries (item 7)", () => {
  it("stops only the partition whose changelog entry does not decode, names it, and serves again once an operator skips the entries", async () => {
    const p = partitionOf("Probe", "corrupt", PARTITIONS);
    const other = keyOn((p + 1) % PARTITIONS);
    await client.objectClient(probe, "corrupt").append(1);
    // What a disk error or a writer with the host's rights could leave behind.
    const jsm = await admin.jetstreamManager();
    // Two in a row: the second hides the first from a repair that would look at the last one only.
    const first = (await admin.jetstream().publish(logSubject(NAMESPACE, p), randomBytes(64))).seq;
    const bad = (await admin.jetstream().publish(logSubject(NAMESPACE, p), randomBytes(64))).seq;
    // The owner's next commit is fenced by the junk; its take-over then fails on it.
    const stuck = client.objectClient(probe, "corrupt").append(2, { idempotencyKey: "corrupt-2", timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(await eventually(() => logLines.some((l) => l.includes(`partition ${p}: changelog entry ${first} is not a Cairn log entry`)), 15_000)).toBe(true);
    expect(await stuck).not.toBeNull();
    expect(await client.objectClient(probe, other).append(1)).toBeNull();
    const views = await inspectChangelog(jsm, NAMESPACE, p, 3);
    expect(views.slice(-2)).toMatchObject([
      { seq: first, ok: false },
      { seq: bad, ok: false },
    ]);
    await expect(skipCorruptEntries(jsm, admin.jetstream(), NAMESPACE, p, first)).rejects.toThrow(/not the last entry/);
    await expect(skipCorruptEntries(jsm, admin.jetstream(), NAMESPACE, p, views.at(-3)?.seq ?? 0)).rejects.toThrow(/not the last entry/);
    expect((await skipCorruptEntries(jsm, admin.jetstream(), NAMESPACE, p, bad)).skipped).toEqual([first, bad]);
    await untilAcknowledged(() => client.objectClient(probe, "corrupt").append(2, { idempotencyKey: "corrupt-2", timeoutMs: 2000 }));
    expect(await client.objectClient(probe, "corrupt").list()).toEqual([1, 2]);
  }, 90_000);

  it("refuses a snapshot that does not decode, naming the partition and the snapshot", async () => {
    const p = partitionOf("Probe", "snap", PARTITIONS);
    await client.objectClient(probe, "snap").append(1);
    const os = await admin.jetstream().views.os(snapshotBucketName(NAMESPACE));
    const name = `p${p}-${(await lastLogSeq(p)) + 1_000_000}`;
    await os.putBlob({ name }, randomBytes(64));
    try {
      // A second host with an empty data dir must load the newest snapshot for the partitions it takes.
      const second = await startHost({ services: [probe], dataDir: tempDir(), nats: nats.host, partitions: PARTITIONS, leaseTtlMs: 2000, logger: pino({ level: "warn" }, new Writable({ write: (c: Buffer, _e, d) => (logLines.push(...c.toString().split("\n")), d()) })) });
      try {
        await host.close();
        const seen = await eventually(() => logLines.some((l) => l.includes(`partition ${p}: snapshot ${name} is not a Cairn snapshot of this partition`)), 20_000);
        expect(seen).toBe(true);
        expect(second.ownedPartitions()).not.toContain(p);
        await os.delete(name);
      } finally {
        await second.close();
      }
    } finally {
      await os.delete(name).catch(() => undefined);
    }
  }, 90_000);
});
