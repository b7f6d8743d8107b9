// `npm run call` over HTTP, against a stand-in that answers as API.md's ingress table says (the real
// ingress is being built on main; this checks the requests the CLI makes and how it prints answers).
import { spawn, spawnSync } from "node:child_process";
import { type IncomingHttpHeaders, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCallArgs, parseDelay } from "../scripts/call-options.js";
import { parseStartOptions } from "../scripts/start-options.js";

const REPO = resolve(import.meta.dirname, "..");

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

describe("npm run call over HTTP", () => {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      seen.push({ method: request.method, url: request.url, headers: request.headers, body });
      const answer = (status: number, json: unknown) => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
      if (request.url?.startsWith("/Nope/")) return answer(404, { code: 404, message: 'Nope.x: unknown object or service "Nope"' });
      if (request.url?.includes("/send")) return answer(202, { invocationId: "inv_1" });
      return answer(200, { itemCount: 1 });
    });
  });
  let url = "";
  beforeAll(async () => {
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((closed) => server.close(() => closed())));

  // Asynchronous: the stand-in server answers from this process's event loop.
  const call = async (...args: string[]) => {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    delete env.CAIRN_NATS_URL;
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "scripts/call.ts", ...args], { cwd: REPO, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const status = await new Promise<number | null>((exited) => child.once("exit", exited));
    return { status, stdout, stderr };
  };

  it("posts the JSON input to /Type/key/handler with the idempotency key, and prints the JSON result", async () => {
    const result = await call("ShoppingCart/user 1/addItem", '{"sku":"apple","qty":2}', "--url", url, "--idempotency-key", "req-42");
    expect(result).toEqual({ status: 0, stdout: '{\n  "itemCount": 1\n}\n', stderr: "" });
    const request = seen.at(-1);
    expect(request?.method).toBe("POST");
    expect(request?.url).toBe("/ShoppingCart/user%201/addItem");
    expect(request?.headers["idempotency-key"]).toBe("req-42");
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(request?.body ?? "")).toEqual({ sku: "apple", qty: 2 });
  });

  it("sends to …/send with ?delayMs for --delay, and prints the invocation id", async () => {
    const result = await call("OrderService/fulfill", '"order-1"', "--url", url, "--delay", "10s");
    expect(result.stdout).toBe('{\n  "invocationId": "inv_1"\n}\n');
    expect(seen.at(-1)?.url).toBe("/OrderService/fulfill/send?delayMs=10000");
  });

  it("prints a JSON error as one line and exits 1", async () => {
    const result = await call("Nope/k/x", "--url", url);
    expect(result).toEqual({ status: 1, stdout: "", stderr: 'TerminalError 404: Nope.x: unknown object or service "Nope"\n' });
  });

  it("says how to reach a host when nothing listens, in one line", async () => {
    const result = await call("ShoppingCart/user-1/getItems", "--url", "http://127.0.0.1:1");
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^cannot reach a Cairn host at http:\/\/127\.0\.0\.1:1 \(.*\)\. Is `npm start` running\?/);
  });

  it("refuses a malformed command line with exit code 2 and the usage", async () => {
    const result = spawnSync(process.execPath, ["--conditions=source", "--import", "tsx", "scripts/call.ts", "ShoppingCart/user-1/addItem", "{qty:"], { cwd: REPO, encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^the input is not JSON .*\nusage: npm run call/);
  });
});

describe("command lines", () => {
  it("parses npm run call's arguments in any order", () => {
    expect(parseCallArgs(["--send", "Counter/a/add", "5", "--idempotency-key", "k"], {})).toEqual({
      target: { type: "object", name: "Counter", key: "a", handler: "add" },
      input: 5,
      transport: { type: "http", url: "http://127.0.0.1:8080" },
      idempotencyKey: "k",
      send: { delayMs: 0 },
    });
    expect(parseCallArgs(["OrderService/fulfill"], { CAIRN_NATS_URL: "nats://nats.example:4222" }).transport).toEqual({ type: "nats", url: "nats://nats.example:4222" });
    expect(() => parseCallArgs(["A/b/c/d"], {})).toThrow('"A/b/c/d" is not Type/key/handler (an object) or Type/handler (a service)');
    expect(() => parseCallArgs(["A/b", "--frobnicate"], {})).toThrow(/Unknown option '--frobnicate'/);
  });

  it("reads durations for --delay", () => {
    expect([parseDelay("500ms"), parseDelay("10s"), parseDelay("5m"), parseDelay("2h"), parseDelay("1d"), parseDelay("250")]).toEqual([500, 10_000, 300_000, 7_200_000, 86_400_000, 250]);
    expect(() => parseDelay("soon")).toThrow("--delay must be a duration such as 500ms, 10s, 5m, 2h or 1d (got \"soon\")");
  });

  it("starts embedded on port 8080 unless told otherwise", () => {
    expect(parseStartOptions([], {})).toEqual({ nats: { type: "embedded" }, httpPort: 8080, dataDir: ".cairn/host-1", help: false });
    expect(parseStartOptions(["--port", "0", "--data", "d"], { CAIRN_NATS_URL: "nats://h:4222" })).toEqual({ nats: { type: "server", url: "nats://h:4222" }, httpPort: 0, dataDir: "d", help: false });
    expect(parseStartOptions(["--nats", "local"], { CAIRN_HTTP_PORT: "9000", CAIRN_STATE_DIR: "/s" })).toEqual({ nats: { type: "local", url: "nats://127.0.0.1:4222" }, httpPort: 9000, dataDir: "/s/host-1", help: false });
    expect(() => parseStartOptions(["--port", "http"], {})).toThrow('--port (or CAIRN_HTTP_PORT) must be a port number from 0 to 65535 (got "http")');
    expect(() => parseStartOptions(["--nats"], {})).toThrow(/--nats <value>' argument missing/);
  });
});
