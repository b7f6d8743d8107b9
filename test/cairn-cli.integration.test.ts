// The `cairn` CLI as a user runs it (a child process), against a real embedded host and a real
// NATS namespace. Invocations of one phase run in parallel: each is a node process start.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Host, startHost } from "../runtime/index.js";
import { HttpAdminReader, type InvocationDetail, type InvocationSummary, type PartitionView, type StateView, type TimerView } from "../runtime/admin/index.js";
import { acct } from "./fixtures/cli-objects.js";
import { eventually } from "./helpers/host.js";
import { counter, mirror } from "../examples/counter.js";
import { orderService, shoppingCart } from "../examples/shopping-cart.js";
import { parseDuration, parseTarget } from "../cli/index.js";
import { parseStartOptions } from "../scripts/start-options.js";
import { cairn, spawnCairn } from "./helpers/cairn-cli.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

const services = [counter, mirror, shoppingCart, orderService];
const json = (text: string): unknown => JSON.parse(text);

describe("cairn call and send, against an embedded host's ingress", () => {
  let host: Host;
  let dir: string;
  let url: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(process.env.CAIRN_TEST_TMP ?? tmpdir(), "cairn-cli-"));
    host = await startHost({ services, dataDir: dir, ingress: { port: 0 }, logLevel: "silent" });
    url = host.ingressUrl ?? "";
  });
  afterAll(async () => {
    await host?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("calls, sends and reports each failure with its exit code and one line", async () => {
    const [first, retried, sent, unknown, invalid, unreachable, malformed, both] = await Promise.all([
      cairn(["call", "Counter/c1/add", "5", "--url", url, "--idempotency-key", "k1"]),
      cairn(["call", "Counter/c1/add", "5", "--idempotency-key", "k1"], { CAIRN_INGRESS_URL: url }),
      cairn(["send", "Counter/c2/add", "7", "--url", url, "--delay", "10ms"]),
      cairn(["call", "Nope/k/x", "--url", url]),
      cairn(["call", "ShoppingCart/u1/addItem", '{"sku":"apple"}', "--url", url]),
      cairn(["call", "Counter/c1/total", "--url", "http://127.0.0.1:1"]),
      cairn(["call", "Counter/c1/add", "{qty:", "--url", url]),
      cairn(["call", "Counter/c1/add", "1", "--url", url, "--nats", "nats://127.0.0.1:1"]),
    ]);
    expect(first).toEqual({ status: 0, stdout: "5\n", stderr: "" });
    expect(retried).toEqual({ status: 0, stdout: "5\n", stderr: "" });
    expect(sent.status).toBe(0);
    expect(json(sent.stdout)).toEqual({ invocationId: expect.stringMatching(/^inv_/) });
    expect(unknown).toEqual({ status: 4, stdout: "", stderr: expect.stringMatching(/^TerminalError 404: unknown object or service "Nope" \(this host serves: .*\)\n$/) });
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toMatch(/^TerminalError 400: ShoppingCart\.addItem: invalid input: input\.qty: .*\n$/);
    expect(unreachable.status).toBe(3);
    expect(unreachable.stderr).toMatch(/^cannot reach a Cairn host at http:\/\/127\.0\.0\.1:1 \(.*\)\. Is `cairn start` \(or `npm start`\) running\?.*\n$/);
    expect(malformed).toEqual({ status: 2, stdout: "", stderr: expect.stringMatching(/^the input is not JSON .*\n\(--help for usage\)\n$/) });
    expect(both).toEqual({ status: 2, stdout: "", stderr: "--url and --nats name two ways to reach the host: give one\n(--help for usage)\n" });
    // The one send counted once, delayed or not; the retried call did not add again.
    const totals = await Promise.all([host.client.objectClient(counter, "c1").total(), untilTotal(host, "c2", 7)]);
    expect(totals).toEqual([5, 7]);
  });
});

describe("cairn call and send, over a NATS namespace", () => {
  let nats: NatsServer;
  let host: Host;
  let dir: string;
  beforeAll(async () => {
    nats = await startNatsServer({ auth: true });
    dir = mkdtempSync(join(process.env.CAIRN_TEST_TMP ?? tmpdir(), "cairn-cli-nats-"));
    host = await startHost({ services, dataDir: dir, nats: nats.host, partitions: 4, logLevel: "silent" });
  });
  afterAll(async () => {
    await host?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("calls and sends as the client user", async () => {
    const client = { CAIRN_NATS_USER: String(nats.client.user), CAIRN_NATS_PASSWORD: String(nats.client.pass) };
    const [called, sent, refused] = await Promise.all([
      cairn(["call", "Counter/n1/add", "3", "--nats", nats.url], client),
      cairn(["send", "Counter/n2/add", "4"], { ...client, CAIRN_NATS_URL: nats.url }),
      cairn(["call", "Counter/n1/add", "3", "--nats", nats.url], { CAIRN_NATS_USER: "cairn-client", CAIRN_NATS_PASSWORD: "wrong" }),
    ]);
    expect(called).toEqual({ status: 0, stdout: "3\n", stderr: "" });
    expect(sent.status).toBe(0);
    expect(json(sent.stdout)).toEqual({ invocationId: expect.stringMatching(/^inv_/) });
    expect(refused.status).toBe(3);
    expect(refused.stderr).toMatch(new RegExp(`^cannot connect to NATS at ${nats.url} as cairn-client \\(.*\\)\\. Is \`cairn start --nats …\` running\\?`));
    expect(await untilTotal(host, "n2", 4)).toBe(4);
  });
});

/** Fills the host with what the read commands show: a suspended nap, a backing-off retry, three state entries. */
async function populate(host: Host, until: () => Promise<InvocationSummary[]>): Promise<{ napId: string; flakyId: string }> {
  const { invocationId: napId } = await host.client.objectSendClient(acct, "sleeper").nap();
  const { invocationId: flakyId } = await host.client.objectSendClient(acct, "flaky-key").flaky();
  await host.client.objectClient(acct, "filled").fill({ a: 1, b: "x".repeat(100), c: { nested: [1, 2] } });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const live = await until();
    const statusOf = (id: string) => live.find((inv) => inv.id === id)?.status;
    if (statusOf(napId) === "suspended" && statusOf(flakyId) === "backing-off") return { napId, flakyId };
    if (Date.now() > deadline) throw new Error(`the nap and the flaky invocation did not settle: ${JSON.stringify(live)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const STATE_TABLE = `Acct/filled (partition P): 3 entries, showing 1-3
name  bytes  value
a     1      1
b     102    "${"x".repeat(58)}…
c     13     {"nested":[1,2]}
(long values are cut: --json shows them whole)
`;

describe("cairn's read and control commands, against an embedded host's admin endpoint", () => {
  const TOKEN = "s3cret-admin-token";
  let host: Host;
  let dir: string;
  let admin: string;
  let ids: { napId: string; flakyId: string };
  beforeAll(async () => {
    dir = mkdtempSync(join(process.env.CAIRN_TEST_TMP ?? tmpdir(), "cairn-cli-admin-"));
    host = await startHost({ services: [acct], dataDir: dir, partitions: 4, admin: { port: 0, token: TOKEN }, logLevel: "silent", historyEntriesPerKey: 100 });
    admin = host.adminUrl ?? "";
    const reader = new HttpAdminReader(admin, { token: TOKEN });
    ids = await populate(host, () => reader.invocations({ object: "Acct" }));
  });
  afterAll(async () => {
    await host?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints tables and JSON, and exits 1, 3 and 4 with one line where it must", async () => {
    const env = { CAIRN_ADMIN_URL: admin, CAIRN_ADMIN_TOKEN: TOKEN };
    const [services, list, listJson, show, showJson, missing, state, statePage, history, timers, partitions, noToken, unreachable] = await Promise.all([
      cairn(["services"], env),
      cairn(["invocations", "--object", "Acct", "--key", "flaky-key"], env),
      cairn(["invocations", "--status", "suspended", "--json"], env),
      cairn(["invocations", "show", ids.napId], env),
      cairn(["invocations", "show", ids.flakyId, "--json"], env),
      cairn(["invocations", "show", "inv_nope"], env),
      cairn(["state", "Acct", "filled"], env),
      cairn(["state", "Acct", "filled", "--offset", "1", "--limit", "1", "--json"], env),
      cairn(["state", "history", "Acct", "filled"], env),
      cairn(["timers", "Acct", "sleeper", "--json"], env),
      cairn(["partitions", "--json", "--admin", admin], { CAIRN_ADMIN_TOKEN: TOKEN }),
      cairn(["services", "--admin", admin]),
      cairn(["partitions", "--admin", "http://127.0.0.1:1"]),
    ]);
    expect(services).toEqual({ status: 0, stderr: "", stdout: `name  type    handlers                                              hosts\nAcct  object  fill (exclusive), flaky (exclusive), nap (exclusive)  ${host.hostId}\n` });

    expect(list.status).toBe(0);
    const [header, row, ...rest] = list.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^id +target +status +partition +failed attempts +next +last error$/);
    expect(row).toMatch(new RegExp(`^${ids.flakyId} +Acct/flaky-key/flaky +backing-off +\\d +1 +\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z +"Error: boom"$`));
    expect(rest).toEqual([]);
    const suspended = (json(listJson.stdout) as { invocations: InvocationSummary[] }).invocations;
    expect(suspended.map((inv) => [inv.id, inv.status, inv.target])).toEqual([[ids.napId, "suspended", { object: "Acct", key: "sleeper", handler: "nap" }]]);

    expect(show.status).toBe(0);
    expect(show.stdout).toMatch(
      new RegExp(
        [
          `^invocation       ${ids.napId}`,
          "target           Acct/sleeper/nap",
          "status           suspended",
          "partition        \\d",
          "failed attempts  0",
          "last error       -",
          "next attempt     -",
          "wakes at         (\\S+)",
          "waiting on       sleep until \\1",
          "",
          "journal:",
          "#  type   name    outcome",
          "0  run    before  ok 42",
          "1  sleep  -       pending \\(wakes at \\1\\)\n$",
        ].join("\n"),
      ),
    );
    const flaky = json(showJson.stdout) as InvocationDetail;
    expect(flaky).toMatchObject({ id: ids.flakyId, status: "backing-off", failedAttempts: 1, lastError: "Error: boom", waitingOn: expect.stringMatching(/^retry at /) });
    expect(missing).toEqual({ status: 4, stdout: "", stderr: `the admin endpoint at ${admin}: no invocation inv_nope (ended ones are kept for the idempotency window)\n` });

    expect(state.status).toBe(0);
    expect(state.stdout.replace(/\(partition \d+\)/, "(partition P)")).toBe(STATE_TABLE);
    const page = json(statePage.stdout) as StateView;
    expect(page).toMatchObject({ object: "Acct", key: "filled", total: 3, entries: [{ name: "b", value: "x".repeat(100), bytes: 102 }] });

    // One commit wrote the three entries: one row per entry, nothing before.
    expect(history.status).toBe(0);
    const historyRows = history.stdout.trimEnd().split("\n");
    expect(historyRows[0]).toMatch(/^time +invocation +handler +name +before +after$/);
    expect(historyRows.at(-1)).toMatch(/--json shows them whole/);
    expect(historyRows.slice(1, -1).map((row) => row.split(/ {2,}/).slice(2))).toEqual([
      ["Acct.fill", "a", "-", "1"],
      ["Acct.fill", "b", "-", `"${"x".repeat(28)}…`],
      ["Acct.fill", "c", "-", '{"nested":[1,2]}'],
    ]);

    const napTimers = (json(timers.stdout) as { timers: TimerView[] }).timers;
    expect(napTimers).toEqual([{ partition: expect.any(Number), dueMs: expect.any(Number), kind: "sleep", invocationId: ids.napId, target: { object: "Acct", key: "sleeper", handler: "nap" } }]);
    const owned = (json(partitions.stdout) as { partitions: PartitionView[] }).partitions;
    expect(owned.map((p) => [p.partition, p.owner])).toEqual([0, 1, 2, 3].map((p) => [p, host.hostId]));
    expect(owned.reduce((n, p) => n + p.timers, 0)).toBe(2);

    expect(noToken).toEqual({ status: 1, stdout: "", stderr: `the admin endpoint at ${admin} wants a bearer token (401): give --token T or set CAIRN_ADMIN_TOKEN\n` });
    expect(unreachable.status).toBe(3);
    expect(unreachable.stderr).toMatch(/^cannot reach the admin endpoint at http:\/\/127\.0\.0\.1:1 \(.*\)\. Is a host running with an admin endpoint/);
    expect(unreachable.stderr.trimEnd().split("\n")).toHaveLength(1);

    // After the reads (it ends the nap): a cancel is accepted, the invocation ends, and a second one finds nothing live.
    const cancel = await cairn(["invocations", "cancel", ids.napId], env);
    expect(cancel).toEqual({ status: 0, stderr: "", stdout: `cancel of ${ids.napId} accepted (it acts asynchronously: \`cairn invocations show ${ids.napId}\` follows it)\n` });
    const reader = new HttpAdminReader(admin, { token: TOKEN });
    expect(await eventually(async () => (await reader.invocation(ids.napId))?.status === "failed")).toBe(true);
    const again = await cairn(["invocations", "kill", ids.napId], env);
    expect(again.status).toBe(4);
    expect(again.stderr).toMatch(/no live invocation/);
    // A resume runs one backing off now: it fails again, a second failed attempt.
    const resumed = await cairn(["invocations", "resume", ids.flakyId, "--json"], env);
    expect(resumed).toEqual({ status: 0, stderr: "", stdout: `${JSON.stringify({ invocationId: ids.flakyId, accepted: true }, null, 2)}\n` });
    expect(await eventually(async () => (await reader.invocation(ids.flakyId))?.failedAttempts === 2)).toBe(true);
  });
});

describe("cairn's read commands, against a NATS namespace", () => {
  let nats: NatsServer;
  let host: Host;
  let dir: string;
  let ids: { napId: string; flakyId: string };
  beforeAll(async () => {
    nats = await startNatsServer({ auth: true });
    dir = mkdtempSync(join(process.env.CAIRN_TEST_TMP ?? tmpdir(), "cairn-cli-ns-"));
    host = await startHost({ services: [acct], dataDir: dir, nats: nats.host, namespace: "clins", partitions: 4, logLevel: "silent", historyEntriesPerKey: 100 });
    // The in-process check reads the same way the CLI does: through the namespace's admin subjects.
    const { NatsAdminReader } = await import("../runtime/transport/nats/index.js");
    const reader = await NatsAdminReader.connect({ nats: nats.host, namespace: "clins" });
    try {
      ids = await populate(host, () => reader.invocations({ object: "Acct" }));
    } finally {
      await reader.close();
    }
  });
  afterAll(async () => {
    await host?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gathers every host's answers as the hosts' user, and says why when it cannot", async () => {
    const asHost = { CAIRN_NATS_USER: String(nats.host.user), CAIRN_NATS_PASSWORD: String(nats.host.pass) };
    const at = ["--nats", nats.url, "--namespace", "clins"];
    const [services, list, show, state, timers, partitions, history, asClient, noNamespace] = await Promise.all([
      cairn(["services", ...at], asHost),
      cairn(["invocations", ...at, "--json"], asHost),
      cairn(["invocations", "show", ids.napId, ...at, "--json"], asHost),
      cairn(["state", "Acct", "filled", ...at], asHost),
      cairn(["timers", ...at, "--json"], asHost),
      cairn(["partitions", ...at], asHost),
      cairn(["state", "history", "Acct", "filled", ...at], asHost),
      cairn(["partitions", ...at], { CAIRN_NATS_USER: String(nats.client.user), CAIRN_NATS_PASSWORD: String(nats.client.pass) }),
      cairn(["partitions", "--nats", nats.url, "--namespace", "nobody"], asHost),
    ]);
    expect(services).toEqual({ status: 0, stderr: "", stdout: `name  type    handlers                                              hosts\nAcct  object  fill (exclusive), flaky (exclusive), nap (exclusive)  ${host.hostId}\n` });
    const invocations = (json(list.stdout) as { invocations: InvocationSummary[] }).invocations;
    expect(new Map(invocations.map((inv) => [inv.id, inv.status]))).toEqual(new Map([[ids.napId, "suspended"], [ids.flakyId, "backing-off"], [expect.any(String), "succeeded"]]));
    expect((json(show.stdout) as InvocationDetail).journal.map((entry) => entry.type)).toEqual(["run", "sleep"]);
    expect(state.stdout.replace(/\(partition \d+\)/, "(partition P)")).toBe(STATE_TABLE);
    expect((json(timers.stdout) as { timers: TimerView[] }).timers.map((t) => [t.kind, t.invocationId]).sort()).toEqual([["retry", ids.flakyId], ["sleep", ids.napId]]);
    expect(partitions.status).toBe(0);
    const lines = partitions.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^partition +owner +epoch +inbox +outbox +timers +invocations +changelog$/);
    expect(lines.slice(1).map((line) => line.split(/ +/).slice(0, 2))).toEqual([0, 1, 2, 3].map((p) => [String(p), host.hostId]));
    expect(history.status).toBe(0);
    expect(history.stdout.trimEnd().split("\n").slice(1, -1).map((row) => row.split(/ {2,}/)[3])).toEqual(["a", "b", "c"]);
    expect(asClient).toMatchObject({ status: 1, stderr: expect.stringMatching(/^namespace "clins" at .* refuses these credentials \(.*Permissions Violation.*\): reading a namespace takes the hosts' user/) });
    expect(asClient.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(noNamespace.status, noNamespace.stderr).toBe(3);
    expect(noNamespace.stderr).toMatch(/^cannot reach namespace "nobody" at .*: it has no lease bucket \(stream not found\)\. Is a host of this namespace running\?/);

    // After the reads: a cancel over NATS reaches the host that holds the invocation; it ends.
    const cancel = await cairn(["invocations", "cancel", ids.napId, ...at], asHost);
    expect(cancel).toMatchObject({ status: 0, stderr: "" });
    const ended = await cairn(["invocations", "show", ids.napId, ...at, "--json"], asHost);
    expect((json(ended.stdout) as InvocationDetail).status).toBe("failed");
    // The callers' user may not steer invocations.
    const asCaller = await cairn(["invocations", "kill", ids.flakyId, ...at], { CAIRN_NATS_USER: String(nats.client.user), CAIRN_NATS_PASSWORD: String(nats.client.pass) });
    expect(asCaller.status).not.toBe(0);
  });

  it("starts a host on the namespace with --nats, which the other commands then reach there", async () => {
    const asHost = { CAIRN_NATS_USER: String(nats.host.user), CAIRN_NATS_PASSWORD: String(nats.host.pass) };
    const asClient = { CAIRN_NATS_USER: String(nats.client.user), CAIRN_NATS_PASSWORD: String(nats.client.pass) };
    const dataDir = mkdtempSync(join(process.env.CAIRN_TEST_TMP ?? tmpdir(), "cairn-cli-start-nats-"));
    const child = spawnCairn(["start", "examples/counter.ts", "--nats", nats.url, "--data", dataDir, "--no-http", "--admin", "0", "--partitions", "4"], asHost);
    try {
      const banner = await child.untilStdout(/Ctrl-C stops the host\.\n/, 30_000);
      expect(banner.startsWith("Cairn host host-")).toBe(true);
      expect(banner).toContain(`running on NATS at ${nats.url}: `);
      const called = await cairn(["call", "Counter/n/add", "5", "--nats", nats.url], asClient);
      expect(called).toEqual({ status: 0, stdout: "5\n", stderr: "" });
      const state = await cairn(["state", "Counter", "n", "--nats", nats.url, "--json"], asHost);
      expect((json(state.stdout) as StateView).entries.map((e) => [e.name, e.value])).toEqual([["total", 5]]);
      child.process.kill("SIGTERM");
      expect(await child.exited).toBe(0);
    } finally {
      if (child.process.exitCode === null) child.process.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** The Counter's total for `key` once it reaches `want` (a send lands asynchronously); bounded. */
async function untilTotal(host: Host, key: string, want: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const total = await host.client.objectClient(counter, key).total();
    if (total === want || Date.now() > deadline) return total;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("cairn start", () => {
  it("serves the definitions a module exports, with ingress and admin endpoint, until SIGTERM", async () => {
    const dataDir = mkdtempSync(join(process.env.CAIRN_TEST_TMP ?? tmpdir(), "cairn-cli-start-"));
    const child = spawnCairn(["start", "test/fixtures/cli-objects.ts", "examples/counter.ts", "--data", dataDir, "--http", "0", "--admin", "0"]);
    try {
      const banner = await child.untilStdout(/Ctrl-C stops the host\.\n/, 30_000);
      expect(banner).toMatch(/^Cairn host host-\S+ running embedded \(no server\): Acct, Counter, Mirror \(data: .*\)\.\nHTTP ingress on http:\/\/127\.0\.0\.1:\d+\.\nAdmin endpoint on http:\/\/127\.0\.0\.1:\d+ \(cairn … --admin http:\/\/127\.0\.0\.1:\d+\)\.\n/);
      const ingress = /HTTP ingress on (\S+)\./.exec(banner)?.[1] ?? "";
      const admin = /Admin endpoint on (\S+) /.exec(banner)?.[1] ?? "";
      const [called, services] = await Promise.all([cairn(["call", "Counter/s/add", "2", "--url", ingress]), cairn(["services", "--admin", admin, "--json"])]);
      expect(called).toEqual({ status: 0, stdout: "2\n", stderr: "" });
      expect((json(services.stdout) as { services: Array<{ name: string }> }).services.map((s) => s.name).sort()).toEqual(["Acct", "Counter", "Mirror"]);
      child.process.kill("SIGTERM");
      expect(await child.exited).toBe(0);
    } finally {
      if (child.process.exitCode === null) child.process.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("refuses a module that exports no definition, with exit code 2", async () => {
    expect(await cairn(["start", "cli/table.ts", "--http", "0", "--no-admin"])).toEqual({ status: 2, stdout: "", stderr: "cli/table.ts exports no object, service or workflow definition\n(--help for usage)\n" });
  });
});

describe("command lines", () => {
  it("reads targets and durations", () => {
    expect(parseTarget("Counter/a/add")).toEqual({ type: "object", name: "Counter", key: "a", handler: "add" });
    expect(parseTarget("OrderService/fulfill")).toEqual({ type: "service", name: "OrderService", handler: "fulfill" });
    expect(() => parseTarget("A/b/c/d")).toThrow('"A/b/c/d" is not Type/key/handler (an object) or Type/handler (a service)');
    expect([parseDuration("500ms"), parseDuration("10s"), parseDuration("5m"), parseDuration("2h"), parseDuration("1d"), parseDuration("250")]).toEqual([500, 10_000, 300_000, 7_200_000, 86_400_000, 250]);
    expect(() => parseDuration("soon", "--timeout")).toThrow('--timeout must be a duration such as 500ms, 10s, 5m, 2h or 1d (got "soon")');
  });

  it("starts npm start embedded on port 8080 unless told otherwise", () => {
    expect(parseStartOptions([], {})).toEqual({ nats: { type: "embedded" }, httpPort: 8080, dataDir: ".cairn/host-1", help: false });
    expect(parseStartOptions(["--port", "0", "--data", "d"], { CAIRN_NATS_URL: "nats://h:4222" })).toEqual({ nats: { type: "server", url: "nats://h:4222" }, httpPort: 0, dataDir: "d", help: false });
    expect(parseStartOptions(["--nats", "local"], { CAIRN_HTTP_PORT: "9000", CAIRN_STATE_DIR: "/s" })).toEqual({ nats: { type: "local", url: "nats://127.0.0.1:4222" }, httpPort: 9000, dataDir: "/s/host-1", help: false });
    expect(() => parseStartOptions(["--port", "http"], {})).toThrow('--port (or CAIRN_HTTP_PORT) must be a port number from 0 to 65535 (got "http")');
  });
});
