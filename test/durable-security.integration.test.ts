import { Writable } from "node:stream";
import { type NatsConnection, connect as natsConnect } from "nats";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CairnClient, connect } from "cairn/client";
import { type Host, startHost } from "cairn/runtime";
import { type Envelope, type InvocationId, awakeableId, childInvocationId, encode, envelopeHeaders, newInvocationId, parseAwakeableId, partitionOf } from "../sdk/internal.js";
import { account, caller, callsSeen } from "./fixtures/calls.js";
import { eventually, tempDir } from "./helpers/host.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

// A hostile client on the same NATS, with the client user's shipped permissions (nats-auth.conf): it
// may publish to the inbox, so it may publish complete-entry commands. What it must not do is
// complete another invocation's call or awakeable.
const PARTITIONS = 4;

let nats: NatsServer;
let host: Host;
let client: CairnClient;
let attacker: NatsConnection;
const logLines: string[] = [];

beforeAll(async () => {
  nats = await startNatsServer({ auth: true });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  host = await startHost({ services: [account, caller], dataDir: tempDir(), nats: nats.host, partitions: PARTITIONS, leaseTtlMs: 2000, logger: pino({ level: "warn" }, sink) });
  client = await connect({ ...nats.client, timeoutMs: 10_000 });
  attacker = await natsConnect({ servers: nats.url, user: nats.client.user, pass: nats.client.pass });
});

afterAll(async () => {
  await attacker?.close();
  await client?.close();
  await host?.close();
  await nats?.stop();
});

beforeEach(() => callsSeen.reset());

/** Publishes a complete-entry command as the attacker: the outcome `value`, for entry `index` of `invocationId`. */
async function forge(key: string, handler: string, invocationId: InvocationId, index: number, from: string, value: unknown): Promise<void> {
  const envelope: Envelope = { invocationId, target: { type: "object", name: "Caller", key, handler }, completes: { index, from } };
  const js = attacker.jetstream();
  await js.publish(`cairn.in.${partitionOf("Caller", key, PARTITIONS)}`, encode({ ok: true, value: encode(value) }), { headers: envelopeHeaders(envelope) });
}

describe("complete-entry commands from a hostile client", () => {
  it("cannot answer a handler's call, even naming the id a child invocation would have", async () => {
    const { invocationId } = await client.objectSendClient(caller, "victim").waitSlow({ account: "slow-1", ms: 1500, value: "real" });
    expect(await eventually(() => callsSeen.runs.get("slow-1:slow-echo") === 1, 5000)).toBe(true);
    const id = invocationId as InvocationId;
    await forge("victim", "waitSlow", id, 0, childInvocationId(id, 0), "forged");
    await forge("victim", "waitSlow", id, 0, newInvocationId(), "forged");
    expect(await eventually(async () => (await client.objectClient(caller, "victim").got()) !== null, 10_000)).toBe(true);
    expect(await client.objectClient(caller, "victim").got()).toBe("real");
    expect(logLines.some((l) => l.includes("complete-entry command from another invocation than the callee; refused"))).toBe(true);
  });

  it("cannot resolve an awakeable whose id it did not get, knowing the invocation and the index", async () => {
    const waiting = client.objectClient(caller, "awk-victim").awaitAwakeable();
    let id = "none";
    expect(await eventually(async () => (id = await client.objectClient(caller, "awk-victim").peek()) !== "none", 5000)).toBe(true);
    const real = parseAwakeableId(id);
    if (!real) throw new Error(`not an awakeable id: ${id}`);
    // Everything but the nonce is guessable from the invocation id; a forged id has another nonce.
    const forgedId = awakeableId({ ...real, nonce: "0".repeat(32) });
    const forged = parseAwakeableId(forgedId);
    await forge("awk-victim", "awaitAwakeable", real.invocationId, real.index, forged?.nonce ?? "", { ok: false });
    await client.resolveAwakeable(forgedId, { ok: false });
    await client.resolveAwakeable(id, { ok: true });
    expect(await waiting).toEqual({ ok: true });
    expect(logLines.some((l) => l.includes("complete-entry command for an awakeable without its id's nonce; refused"))).toBe(true);
  });
});
