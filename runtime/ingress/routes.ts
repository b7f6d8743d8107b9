import type { Target } from "../../sdk/internal.js";
import { TerminalError } from "../../sdk/index.js";
import type { Registry } from "../invoke/index.js";
import { HttpError } from "./http-error.js";

/** What a request asks for: a call answered with the result, or a send answered once accepted. */
export type Route =
  | { readonly type: "call"; readonly target: Target }
  | { readonly type: "send"; readonly target: Target; readonly delayMs: number | undefined };

const SEND = "send";

/**
 * The route of a request path (with its query), or an `HttpError`: 400 for a malformed encoding or
 * query, 404 for a path that names nothing this host serves. Which segment is the key depends on
 * whether the first names an object or a service, so the registry decides before anything is sent;
 * that also keeps a handler named "send" reachable (`/Svc/send` calls it, `/Svc/send/send` sends to it).
 */
export function parseRoute(url: string, registry: Registry): Route {
  const queryAt = url.indexOf("?");
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  const query = new URLSearchParams(queryAt < 0 ? "" : url.slice(queryAt + 1));
  if (!path.startsWith("/")) throw new HttpError(404, `no route for ${JSON.stringify(path)}`);
  const raw = path.slice(1).split("/");
  if (raw.length < 2 || raw.length > 4) throw new HttpError(404, noRoute(path));
  const segments = raw.map(decodeSegment);
  const [name = "", ...rest] = segments;
  const type = registry.typeOf(name);
  if (type === undefined) {
    throw new HttpError(404, `unknown object or service ${JSON.stringify(name)} (this host serves: ${registry.names().join(", ") || "nothing"})`);
  }
  let target: Target;
  let send: boolean;
  switch (type) {
    case "object": {
      const [key, handler, last] = rest;
      if (key === undefined || handler === undefined || (last !== undefined && last !== SEND)) {
        throw new HttpError(404, `${noRoute(path)}: ${name} is an object, called as POST /${name}/{key}/{handler} or sent to with POST /${name}/{key}/{handler}/send`);
      }
      target = { type, name, key, handler };
      send = last === SEND;
      break;
    }
    case "service": {
      const [handler, last, extra] = rest;
      if (handler === undefined || extra !== undefined || (last !== undefined && last !== SEND)) {
        throw new HttpError(404, `${noRoute(path)}: ${name} is a service, called as POST /${name}/{handler} or sent to with POST /${name}/{handler}/send`);
      }
      target = { type, name, handler };
      send = last === SEND;
      break;
    }
    default: {
      const unknownType: never = type;
      throw new HttpError(404, `${name} is a ${String(unknownType)}, which the ingress does not serve`);
    }
  }
  const resolved = registry.resolve(target);
  if (resolved instanceof TerminalError) throw new HttpError(resolved.errorCode, resolved.message);
  const delayMs = parseQuery(query, send, path);
  return send ? { type: "send", target, delayMs } : { type: "call", target };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (error) {
    throw new HttpError(400, `the path segment ${JSON.stringify(segment)} is not valid percent-encoded UTF-8`, { cause: error });
  }
}

function noRoute(path: string): string {
  return `no route for ${path.length > 200 ? `${path.slice(0, 200)}…` : path}`;
}

/** `delayMs` for a send; anything else, or a delay on a call, is refused rather than silently ignored. */
function parseQuery(query: URLSearchParams, send: boolean, path: string): number | undefined {
  let delayMs: number | undefined;
  for (const [name, value] of query) {
    if (name !== "delayMs" || !send) {
      throw new HttpError(400, `unknown query parameter ${JSON.stringify(name)} for ${path}${send ? "" : " (delayMs is for …/send)"}`);
    }
    if (delayMs !== undefined) throw new HttpError(400, "delayMs is given twice");
    delayMs = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(delayMs)) {
      throw new HttpError(400, `delayMs must be a whole number of milliseconds, 0 or more (got ${JSON.stringify(value)})`);
    }
  }
  return delayMs;
}
