import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { Logger } from "pino";
import type { TargetInvoker } from "../../sdk/internal.js";
import type { Registry } from "../invoke/index.js";
import { errorAnswer, resultJson } from "./answers.js";
import { readJsonBody } from "./body.js";
import { listen } from "./listen.js";
import { requireBearer } from "./bearer.js";
import { HttpError } from "./http-error.js";
import { type Route, parseRoute } from "./routes.js";

/** Options of `startIngress`. */
export interface IngressOptions {
  /** Where calls and sends go: `targetInvoker(host.client)`. */
  invoker: TargetInvoker;
  /** The definitions the host serves: unknown targets are refused (404) before anything is sent. */
  registry: Registry;
  /** TCP port; 0 picks a free one (read it from `url`). */
  port: number;
  /** Interface to bind. @default "127.0.0.1" */
  host?: string;
  /** Larger request bodies are refused with 413 without being read further. */
  maxPayloadBytes: number;
  /** Requests without `Authorization: Bearer <token>` are refused (401). @default no token */
  token?: string;
  /** The host's logger; the ingress logs as its child `{ component: "ingress" }`. */
  logger: Logger;
  /**
   * How long a client has to send a whole request (headers and body); a slower one gets 408 and
   * its connection is closed. Waiting for the handler's result does not count. @default 30000
   */
  requestTimeoutMs?: number;
  /** How long a call waits for its result before answering 504. @default the client's `timeoutMs` */
  callTimeoutMs?: number;
  /**
   * How long `close()` lets calls and sends already handed to the host answer before it ends
   * their connections; a request still sending its body is cut at once. @default 10000
   */
  closeGraceMs?: number;
}

/** A running ingress. */
export interface Ingress {
  /** Its base URL, such as `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Stops taking requests, lets calls and sends in flight answer (within `closeGraceMs`) and closes every connection. */
  close(): Promise<void>;
}

const JSON_TYPE = "application/json; charset=utf-8";
const IDEMPOTENCY_KEY = "idempotency-key";

/**
 * Starts the HTTP ingress: Restate-style paths (`POST /Type/key/handler`, `POST /Type/handler`,
 * each with `/send`), JSON in and out, errors as `{ "code": status, "message": … }`.
 */
export async function startIngress(options: IngressOptions): Promise<Ingress> {
  const { invoker, registry, maxPayloadBytes } = options;
  const bindHost = options.host ?? "127.0.0.1";
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const closeGraceMs = options.closeGraceMs ?? 10_000;
  const log = options.logger.child({ component: "ingress" });
  let closing = false;
  // Requests handed to the invoker and not answered yet: what close() lets finish. A request
  // still sending its body has started nothing, and its connection is simply closed.
  let dispatched = 0;
  let drained: (() => void) | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const startedAt = performance.now();
    let route: Route | undefined;
    try {
      requireBearer(req, options.token);
      route = parseRoute(req.url ?? "/", registry);
      if (req.method !== "POST") throw new HttpError(405, `${req.method ?? "?"} is not allowed; use POST`, { headers: { allow: "POST" } });
      const idempotencyKey = idempotencyKeyOf(req);
      const input = await readJsonBody(req, maxPayloadBytes);
      if (closing) throw new HttpError(503, "the ingress is closing; nothing was sent", { headers: { "retry-after": "1" } });
      dispatched++;
      try {
        const [status, body] = await dispatch(route, input, idempotencyKey);
        reply(res, status, body);
      } finally {
        dispatched--;
        if (dispatched === 0) drained?.();
      }
    } catch (error) {
      const answer = errorAnswer(error, route);
      if (answer.unexpected) log.error({ err: error, method: req.method, url: req.url }, "request failed");
      if (bodyPending(req)) {
        // Answered before its body arrived (a 413, a 404, …): rather than wait for the rest,
        // which may be endless, the connection closes after this answer.
        req.pause();
        res.setHeader("connection", "close");
      }
      reply(res, answer.status, JSON.stringify({ code: answer.status, message: answer.message }), answer.headers);
    }
    log.debug({ method: req.method, url: req.url, status: res.statusCode, ms: Math.round(performance.now() - startedAt) }, "request");
  };

  const dispatch = async (route: Route, input: unknown, idempotencyKey: string | undefined): Promise<[status: number, body: string]> => {
    switch (route.type) {
      case "call":
        return [200, resultJson(await invoker.call(route.target, input, { idempotencyKey, timeoutMs: options.callTimeoutMs }))];
      case "send": {
        const receipt = await invoker.send(route.target, input, { idempotencyKey, delayMs: route.delayMs });
        return [202, JSON.stringify({ invocationId: receipt.invocationId })];
      }
      default: {
        const unknownRoute: never = route;
        throw new Error(`unknown route ${JSON.stringify(unknownRoute)}`);
      }
    }
  };

  const reply = (res: ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>> = {}): void => {
    if (res.headersSent || res.destroyed) return;
    if (closing) res.setHeader("connection", "close");
    res.writeHead(status, { ...headers, "content-type": JSON_TYPE, "content-length": Buffer.byteLength(body) });
    res.end(body);
  };

  const server: Server = createServer(
    {
      requestTimeout: requestTimeoutMs,
      headersTimeout: Math.min(requestTimeoutMs, 60_000),
      // Node checks the two timeouts above on this period (30 s by default): a fraction of the
      // request timeout keeps a stalled upload from holding its socket much longer than allowed.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(requestTimeoutMs / 4))),
    },
    (req, res) => {
      void handle(req, res).catch((error: unknown) => {
        // handle() answers every failure itself; reaching here is a bug, and still ends the request.
        log.error({ err: error }, "request handler failed");
        res.destroy();
      });
    },
  );
  const url = await listen(server, options.port, bindHost, "ingress", " (another host, or npm start?)");
  log.info({ url }, "ingress listening");

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (dispatched > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, closeGraceMs))),
        ]);
        clearTimeout(timer);
      }
      server.closeAllConnections();
      await stopped;
      log.info({ url }, "ingress closed");
    })();
    return closed;
  };
  return { url, close };
}

function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  const value = req.headers[IDEMPOTENCY_KEY];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0) throw new HttpError(400, "the idempotency-key header must be a non-empty string");
  return value;
}
