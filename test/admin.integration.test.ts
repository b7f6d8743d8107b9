import { setTimeout as sleep } from "node:timers/promises";
import { connect as natsConnect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ObjectContext, handlers, object } from "cairn";
import { type Host, startHost } from "cairn/runtime";
import type { HealthView, InvocationDetail, InvocationSummary, PartitionView, ServiceView, StateView, TimerView } from "../runtime/admin/index.js";
import { HttpAdminReader } from "../runtime/admin/index.js";
import { NatsAdminReader, adminSubject } from "../runtime/transport/nats/index.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";
import { modes, useMode } from "./helpers/modes.js";
import { type NatsServer, freePort, startNatsServer } from "./helpers/nats-server.js";

const HOUR_MS = 60 * 60 * 1000;

const account = object({
  name: "Acct",
  handlers: {
    /** Sets one state entry per name given. */
    fill: async (ctx: ObjectContext, names: string[]) => {
      for (const name of names) ctx.set(name, { name, n: name.length });
      return names.length;
    },
    /** A durable sleep of an hour: suspended, with a journal. */
    nap: async (ctx: ObjectContext) => {
      await ctx.run("before", () => 42);
      await ctx.sleep(HOUR_MS);
    },
    /** Fails every attempt, with an hour's backoff: backing off, durably. */
    flaky: handlers.object.exclusive({ retryPolicy: { initialIntervalMs: HOUR_MS, maxIntervalMs: HOUR_MS } }, async () => {
      throw new Error("boom");
    }),
    later: async () => "later",
    /** Fails its only attempt: paused, waiting for an operator. */
    stuck: handlers.object.exclusive({ retryPolicy: { maxAttempts: 1 } }, async () => {
      throw new Error("stuck");
    }),
    /** Two steps, then done: a completed invocation with a journal of 2. */
    steps: async (ctx: ObjectContext) => {
      const a = await ctx.run("one", () => 1);
      const b = await ctx.run("two", () => 2);
      return a + b;
    },
    read: handlers.object.shared(async (ctx) => ctx.key),
  },
});

async function getJson<T>(url: string, token?: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as T };
}

/** Prometheus text as `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

function metricNames(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? ""));
}

describe.each(modes)("admin endpoint, $label", (mode) => {
  const ctx = useMode(mode);
  const shared = ctx.sharedHost({ services: [account], host: { admin: { port: 0 }, partitions: 4, historyEntriesPerKey: 100 } });
  const admin = () => shared.host.adminUrl ?? "";

  it("GET /health answers 200 ready with the host's partitions", async () => {
    const { status, body } = await getJson<HealthView>(`${admin()}/health`);
    expect(status).toBe(200);
    expect(body).toEqual({ status: "ready", hostId: shared.host.hostId, mode: mode.name, ownedPartitions: 4, partitions: 4 });
  });

  it("GET /api/services lists the objects with their handlers' kinds and this host", async () => {
    const { status, body } = await getJson<{ services: ServiceView[] }>(`${admin()}/api/services`);
    expect(status).toBe(200);
    expect(body.services).toEqual([
      {
        name: "Acct",
        type: "object",
        handlers: [
          { name: "fill", kind: "exclusive" },
          { name: "flaky", kind: "exclusive" },
          { name: "later", kind: "exclusive" },
          { name: "nap", kind: "exclusive" },
          { name: "read", kind: "shared" },
          { name: "steps", kind: "exclusive" },
          { name: "stuck", kind: "exclusive" },
        ],
        hosts: [shared.host.hostId],
      },
    ]);
  });

  it("a sleeping handler shows as suspended with its journal, and a failing one as backing-off with its last error", async () => {
    const client = shared.client.objectSendClient(account, "sleeper");
    const { invocationId: napId } = await client.nap();
    const { invocationId: flakyId } = await shared.client.objectSendClient(account, "flaky-key").flaky();
    let suspended: InvocationSummary[] = [];
    expect(
      await eventually(async () => {
        suspended = (await getJson<{ invocations: InvocationSummary[] }>(`${admin()}/api/invocations?status=suspended`)).body.invocations;
        return suspended.some((i) => i.id === napId);
      }),
    ).toBe(true);
    const nap = suspended.find((i) => i.id === napId);
    expect(nap).toMatchObject({ target: { object: "Acct", key: "sleeper", handler: "nap" }, status: "suspended", failedAttempts: 0 });
    expect(nap?.wakeAtMs).toBeGreaterThan(Date.now() + HOUR_MS - 60_000);

    const detail = await getJson<InvocationDetail>(`${admin()}/api/invocations/${napId}`);
    expect(detail.status).toBe(200);
    expect(detail.body.journal).toEqual([
      { index: 0, type: "run", name: "before", outcome: { ok: true, value: 42 } },
      { index: 1, type: "sleep", wakeAtMs: nap?.wakeAtMs, outcome: "pending" },
    ]);
    expect(detail.body.waitingOn).toMatch(/^sleep until \d{4}-/);

    let flaky: InvocationSummary | undefined;
    expect(
      await eventually(async () => {
        flaky = (await getJson<{ invocations: InvocationSummary[] }>(`${admin()}/api/invocations?object=Acct&key=flaky-key`)).body.invocations[0];
        return flaky?.status === "backing-off";
      }),
    ).toBe(true);
    expect(flaky).toMatchObject({ id: flakyId, status: "backing-off", failedAttempts: 1, lastError: "Error: boom" });
    expect(flaky?.nextAttemptAtMs).toBeGreaterThan(Date.now() + HOUR_MS - 60_000);
    const flakyDetail = await getJson<InvocationDetail>(`${admin()}/api/invocations/${flakyId}`);
    expect(flakyDetail.body.waitingOn).toMatch(/^retry at /);
  });

  it("ended invocations are listed as succeeded within the idempotency window, and an unknown id is 404", async () => {
    await shared.client.objectClient(account, "done").fill(["x"]);
    const { body } = await getJson<{ invocations: InvocationSummary[] }>(`${admin()}/api/invocations?status=succeeded&object=Acct&key=done`);
    expect(body.invocations).toHaveLength(1);
    expect(body.invocations[0]).toMatchObject({ target: { object: "Acct", key: "done", handler: "fill" }, status: "succeeded" });
    const id = body.invocations[0]?.id ?? "";
    expect((await getJson<InvocationDetail>(`${admin()}/api/invocations/${id}`)).body).toMatchObject({ id, status: "succeeded", journal: [] });
    const missing = await getJson<{ code: number; message: string }>(`${admin()}/api/invocations/inv_nothing`);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe(404);
    expect(missing.body.message).toMatch(/inv_nothing: not found/);
  });

  it("GET /api/state pages a key's entries in name order, decoded", async () => {
    await shared.client.objectClient(account, "k/with/slashes").fill(["a", "bb", "ccc", "dddd", "eeeee"]);
    const url = `${admin()}/api/state/Acct/${encodeURIComponent("k/with/slashes")}`;
    const page = await getJson<StateView>(`${url}?offset=1&limit=2`);
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ object: "Acct", key: "k/with/slashes", total: 5 });
    expect(page.body.entries.map((e) => [e.name, e.value])).toEqual([
      ["bb", { name: "bb", n: 2 }],
      ["ccc", { name: "ccc", n: 3 }],
    ]);
    expect(page.body.entries[0]?.bytes).toBeGreaterThan(0);
    const empty = await getJson<StateView>(`${admin()}/api/state/Acct/nobody`);
    expect(empty.body).toMatchObject({ entries: [], total: 0 });
    expect((await getJson<unknown>(`${url}?limit=-1`)).status).toBe(400);
  });

  it("GET /api/timers lists delayed sends, sleeps and retries by due time", async () => {
    const { invocationId: sendId } = await shared.client.objectSendClient(account, "timed", { delayMs: 2 * HOUR_MS }).later();
    let timers: TimerView[] = [];
    expect(
      await eventually(async () => {
        timers = (await getJson<{ timers: TimerView[] }>(`${admin()}/api/timers`)).body.timers;
        return timers.some((t) => t.invocationId === sendId) && timers.some((t) => t.kind === "sleep") && timers.some((t) => t.kind === "retry");
      }),
    ).toBe(true);
    expect(timers.find((t) => t.invocationId === sendId)).toMatchObject({ kind: "send", target: { object: "Acct", key: "timed", handler: "later" } });
    expect(timers.map((t) => t.dueMs)).toEqual([...timers.map((t) => t.dueMs)].sort((a, b) => a - b));
    const filtered = (await getJson<{ timers: TimerView[] }>(`${admin()}/api/timers?object=Acct&key=timed`)).body.timers;
    expect(filtered.map((t) => t.invocationId)).toEqual([sendId]);
  });

  it("GET /api/partitions gives owner, epoch and each partition's backlogs", async () => {
    const { body } = await getJson<{ partitions: PartitionView[] }>(`${admin()}/api/partitions`);
    expect(body.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    for (const p of body.partitions) {
      expect(p.owner).toBe(shared.host.hostId);
      expect(p.epoch).toEqual(expect.any(Number));
      expect(p.inboxBacklog).toBeGreaterThanOrEqual(0);
      expect(p.outboxBacklog).toBeGreaterThanOrEqual(0);
    }
    // The sleeper, the flaky one and the delayed send are live somewhere.
    expect(body.partitions.reduce((n, p) => n + p.invocations, 0)).toBeGreaterThanOrEqual(2);
    expect(body.partitions.reduce((n, p) => n + p.timers, 0)).toBeGreaterThanOrEqual(3);
    if (mode.name === "nats") expect(body.partitions.reduce((n, p) => n + p.changelogLength, 0)).toBeGreaterThan(0);
    else expect(body.partitions.every((p) => p.changelogLength === 0)).toBe(true);
  });

  it("GET /api/state/:o/:k/history lists the key's commits newest first, with the values before and after", async () => {
    await shared.client.objectClient(account, "hist").fill(["a"]);
    await shared.client.objectClient(account, "hist").fill(["a", "b"]);
    const { status, body } = await getJson<{ history: Array<{ handler: string; invocationId: string; changes: unknown[] }> }>(`${admin()}/api/state/Acct/hist/history`);
    expect(status).toBe(200);
    expect(body.history.map((h) => h.handler)).toEqual(["Acct.fill", "Acct.fill"]);
    expect(body.history[0]?.changes).toEqual([
      { name: "a", before: { name: "a", n: 1 }, after: { name: "a", n: 1 } },
      { name: "b", after: { name: "b", n: 1 } },
    ]);
    expect(body.history[1]?.changes).toEqual([{ name: "a", after: { name: "a", n: 1 } }]);
  });

  it("says where history is off (the default): 404 naming the option", async () => {
    const plain = await ctx.start({ services: [account], host: { admin: { port: 0 }, partitions: 4 } });
    const { status, body } = await getJson<{ code: number; message: string }>(`${plain.host.adminUrl}/api/state/Acct/k/history`);
    expect(status).toBe(404);
    expect(body.message).toMatch(/state history is not kept on host .*: start it with historyEntriesPerKey > 0/);
    await plain.close();
  });

  it("shows a paused invocation with its last error; POST resume, then kill, act on it; an id not live is 404", async () => {
    const { invocationId } = await shared.client.objectSendClient(account, "stuck-key").stuck();
    let paused: InvocationSummary | undefined;
    expect(
      await eventually(async () => {
        paused = (await getJson<{ invocations: InvocationSummary[] }>(`${admin()}/api/invocations?status=paused`)).body.invocations.find((i) => i.id === invocationId);
        return paused !== undefined;
      }),
    ).toBe(true);
    expect(paused).toMatchObject({ status: "paused", lastError: "Error: stuck", failedAttempts: 1 });
    const resume = await fetch(`${admin()}/api/invocations/${invocationId}/resume`, { method: "POST" });
    expect(resume.status).toBe(202);
    expect(await resume.json()).toEqual({ invocationId, accepted: true });
    // It fails again at once and pauses again; a kill ends it and releases its key.
    expect(await eventually(async () => (await getJson<InvocationDetail>(`${admin()}/api/invocations/${invocationId}`)).body.status === "paused")).toBe(true);
    expect((await fetch(`${admin()}/api/invocations/${invocationId}/kill`, { method: "POST" })).status).toBe(202);
    expect(await eventually(async () => (await getJson<InvocationDetail>(`${admin()}/api/invocations/${invocationId}`)).body.status === "failed")).toBe(true);
    expect(await shared.client.objectClient(account, "stuck-key").later()).toBe("later");
    const gone = await fetch(`${admin()}/api/invocations/${invocationId}/cancel`, { method: "POST" });
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { message: string }).message).toMatch(/no live invocation/);
  });

  it("GET /metrics exposes the cairn_ metrics, and the counters move with calls", async () => {
    const read = async () => {
      const response = await fetch(`${admin()}/metrics`);
      expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
      return response.text();
    };
    const before = parseMetrics(await read());
    const counter = 'cairn_invocations_total{object="Acct",handler="fill",outcome="succeeded"}';
    for (let i = 0; i < 3; i++) await shared.client.objectClient(account, `m${i}`).fill(["v"]);
    expect(await shared.client.objectClient(account, "m-steps").steps()).toBe(3);
    const text = await read();
    const after = parseMetrics(text);
    expect((after.get(counter) ?? 0) - (before.get(counter) ?? 0)).toBe(3);
    expect([...metricNames(text)].sort()).toEqual(
      [
        "cairn_changelog_append_duration_seconds",
        "cairn_commit_duration_seconds",
        "cairn_handler_duration_seconds",
        "cairn_inbox_backlog",
        "cairn_inbox_wait_seconds",
        "cairn_invocation_duration_seconds",
        "cairn_invocations",
        "cairn_invocations_total",
        "cairn_journal_entries",
        "cairn_key_queue_wait_seconds",
        "cairn_outbox_backlog",
        "cairn_partitions_owned",
        "cairn_publish_duration_seconds",
        "cairn_timers_pending",
      ].sort(),
    );
    expect(after.get("cairn_partitions_owned")).toBe(4);
    expect(after.get('cairn_invocations{status="suspended"}')).toBeGreaterThanOrEqual(1);
    expect(after.get('cairn_invocations{status="backing-off"}')).toBeGreaterThanOrEqual(1);
    expect(after.get('cairn_handler_duration_seconds_count{object="Acct",handler="fill"}')).toBeGreaterThanOrEqual(3);
    expect(after.get('cairn_key_queue_wait_seconds_count{object="Acct",handler="fill"}')).toBeGreaterThanOrEqual(3);
    expect(after.get("cairn_commit_duration_seconds_count")).toBeGreaterThanOrEqual(3);
    expect(after.get("cairn_publish_duration_seconds_count")).toBeGreaterThanOrEqual(3);
    const timersPending = [...after].filter(([name]) => name.startsWith("cairn_timers_pending{")).reduce((n, [, v]) => n + v, 0);
    expect(timersPending).toBeGreaterThanOrEqual(3);
    if (mode.name === "nats") {
      expect(after.get("cairn_changelog_append_duration_seconds_count")).toBeGreaterThan(0);
      expect(after.get("cairn_inbox_wait_seconds_count")).toBeGreaterThanOrEqual(3);
    }
    expect(after.get('cairn_journal_entries_count{object="Acct",handler="steps"}')).toBe(1);
    expect(after.get('cairn_journal_entries_sum{object="Acct",handler="steps"}')).toBe(2);
    // Never the key.
    expect(text).not.toMatch(/sleeper|flaky-key|k\/with/);
  });

  it("HttpAdminReader reads the same answers", async () => {
    const reader = new HttpAdminReader(admin());
    expect((await reader.health())[0]?.status).toBe("ready");
    expect((await reader.services()).map((s) => s.name)).toEqual(["Acct"]);
    expect((await reader.invocations({ status: "suspended" })).length).toBeGreaterThanOrEqual(1);
    expect(await reader.invocation("inv_nothing")).toBeUndefined();
    expect((await reader.state("Acct", "k/with/slashes", { limit: 1 }))?.entries.map((e) => e.name)).toEqual(["a"]);
    expect((await reader.partitions()).length).toBe(4);
    await expect(reader.cancel("inv_x")).rejects.toThrow(/not an invocation id/);
  });

  it("/health answers 503 while the host starts and closes, 200 in between", async () => {
    const port = await freePort();
    const nats = ctx.natsUrl === undefined ? {} : { nats: { servers: ctx.natsUrl }, namespace: uniqueNamespace() };
    const seen: string[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        try {
          const { status, body } = await getJson<HealthView>(`http://127.0.0.1:${port}/health`);
          if (seen.at(-1) !== `${status} ${body.status}`) seen.push(`${status} ${body.status}`);
        } catch {
          // Not listening (yet, or any more).
        }
        await sleep(2);
      }
    })();
    const host: Host = await startHost({ services: [account], dataDir: tempDir(), partitions: 4, logLevel: "silent", admin: { port }, ...nats });
    expect((await getJson<HealthView>(`${host.adminUrl}/health`)).status).toBe(200);
    expect(await eventually(() => seen.includes("200 ready"))).toBe(true);
    polling = false;
    await poll;
    // Asked as close() begins: the endpoint is stopped last, after the partitions are handed over.
    const closing = host.close();
    const during = await getJson<HealthView>(`http://127.0.0.1:${port}/health`).catch(() => undefined);
    await closing;
    expect(seen).toContain("200 ready");
    if (mode.name === "nats") {
      expect(seen[0]).toBe("503 starting");
      expect(during && `${during.status} ${during.body.status}`).toBe("503 closing");
    } else if (during) {
      expect(`${during.status} ${during.body.status}`).toBe("503 closing");
    }
    expect(seen.filter((s) => s !== "503 starting" && s !== "200 ready" && s !== "503 closing")).toEqual([]);
  });

  it("with tokens, admin and ingress refuse requests without the bearer token (401), and /health stays open", async () => {
    const nats = ctx.natsUrl === undefined ? {} : { nats: { servers: ctx.natsUrl }, namespace: uniqueNamespace() };
    const host = await startHost({
      services: [account],
      dataDir: tempDir(),
      partitions: 4,
      logLevel: "silent",
      admin: { port: 0, token: "admin-secret" },
      ingress: { port: 0, token: "ingress-secret" },
      ...nats,
    });
    try {
      const url = host.adminUrl ?? "";
      for (const path of ["/api/services", "/metrics", "/api/partitions"]) {
        const refused = await fetch(`${url}${path}`);
        expect(refused.status).toBe(401);
        expect(await refused.json()).toEqual({ code: 401, message: expect.stringMatching(/bearer token/) });
        expect((await fetch(`${url}${path}`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
        expect((await fetch(`${url}${path}`, { headers: { authorization: "Bearer admin-secret" } })).status).toBe(200);
      }
      expect((await fetch(`${url}/health`)).status).toBe(200);
      const ingress = host.ingressUrl ?? "";
      const call = (headers: Record<string, string>) => fetch(`${ingress}/Acct/t/read`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "null" });
      expect((await call({})).status).toBe(401);
      expect((await call({ authorization: "Bearer admin-secret" })).status).toBe(401);
      const ok = await call({ authorization: "Bearer ingress-secret" });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toBe("t");
      // Each host counts its own: the shared host's calls are not in this one's registry.
      await shared.client.objectClient(account, "own-count").fill(["x"]);
      const own = await (await fetch(`${url}/metrics`, { headers: { authorization: "Bearer admin-secret" } })).text();
      const sharedText = await (await fetch(`${admin()}/metrics`)).text();
      expect(sharedText).toMatch(/^cairn_invocations_total\{object="Acct",handler="fill",outcome="succeeded"\} \d+$/m);
      expect(own).not.toMatch(/handler="fill"/);
      expect(own).toMatch(/^cairn_invocations_total\{object="Acct",handler="read",outcome="succeeded"\} 1$/m);
    } finally {
      await host.close();
    }
  });
});

describe("admin queries over NATS", () => {
  let server: NatsServer;
  const hosts: Host[] = [];
  const namespace = "cairn";

  beforeAll(async () => {
    server = await startNatsServer({ auth: true });
    for (let i = 0; i < 2; i++) {
      hosts.push(await startHost({ services: [account], dataDir: tempDir(), partitions: 4, logLevel: "silent", nats: server.host, namespace, leaseTtlMs: 2000 }));
    }
    // Two hosts share the partitions: wait for the spread.
    expect(await eventually(() => hosts.every((h) => h.ownedPartitions().length === 2), 20_000)).toBe(true);
  }, 60_000);

  afterAll(async () => {
    for (const host of hosts.reverse()) await host.close();
    await server?.stop();
  });

  it("a NatsAdminReader with the hosts' credentials gathers and merges every host's answers", async () => {
    const client = hosts[0]?.client;
    if (!client) throw new Error("no host");
    await client.objectSendClient(account, "over-nats").nap();
    const reader = await NatsAdminReader.connect({ nats: server.host, namespace });
    try {
      const health = await reader.health();
      expect(health.map((h) => h.hostId).sort()).toEqual(hosts.map((h) => h.hostId).sort());
      const partitions = await reader.partitions();
      expect(partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
      expect(new Set(partitions.map((p) => p.owner))).toEqual(new Set(hosts.map((h) => h.hostId)));
      const services = await reader.services();
      expect(services[0]?.hosts.sort()).toEqual(hosts.map((h) => h.hostId).sort());
      let suspended: InvocationSummary[] = [];
      expect(
        await eventually(async () => {
          suspended = await reader.invocations({ status: "suspended", key: "over-nats" });
          return suspended.length === 1;
        }),
      ).toBe(true);
      const detail = await reader.invocation(suspended[0]?.id ?? "");
      expect(detail?.journal.map((e) => e.type)).toEqual(["run", "sleep"]);
      expect((await reader.timers({ key: "over-nats" })).map((t) => t.kind)).toEqual(["sleep"]);
      await client.objectClient(account, "filled").fill(["a", "b"]);
      expect((await reader.state("Acct", "filled"))?.entries.map((e) => e.name)).toEqual(["a", "b"]);
      expect(await reader.state("Acct", "nobody-here")).toMatchObject({ total: 0 });
    } finally {
      await reader.close();
    }
  });

  it("a client without the hosts' credentials cannot query the admin subjects", async () => {
    const hostile = await natsConnect({ servers: server.url, user: server.client.user, pass: server.client.pass, reconnect: false });
    try {
      const asked = hostile.request(adminSubject(namespace, "invocations"), new TextEncoder().encode("{}"), { timeout: 2000 });
      await expect(asked).rejects.toThrow(/permissions violation/i);
    } finally {
      await hostile.close().catch(() => undefined);
    }
    // With the hosts' credentials the same request is answered: the refusal above is the permissions'.
    const host = await natsConnect({ servers: server.url, user: server.host.user, pass: server.host.pass, reconnect: false, inboxPrefix: "_INBOX_cairn_host" });
    try {
      const answer = await host.request(adminSubject(namespace, "health"), new TextEncoder().encode("{}"), { timeout: 2000 });
      expect(JSON.parse(new TextDecoder().decode(answer.data))).toMatchObject({ ok: true, answer: { status: "ready" } });
    } finally {
      await host.close();
    }
  });
});
