// The `cairn` CLI as a user runs it (a child process), against a real embedded host and a real
// NATS namespace. Invocations of one phase run in parallel: each is a node process start.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Host, startHost } from "../runtime/index.js";
import { counter, mirror } from "../examples/counter.js";
import { orderService, shoppingCart } from "../examples/shopping-cart.js";
import { parseDuration, parseTarget } from "../cli/call-options.js";
import { parseStartOptions } from "../scripts/start-options.js";
import { cairn } from "./helpers/cairn-cli.js";
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

/** The Counter's total for `key` once it reaches `want` (a send lands asynchronously); bounded. */
async function untilTotal(host: Host, key: string, want: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const total = await host.client.objectClient(counter, key).total();
    if (total === want || Date.now() > deadline) return total;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

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
