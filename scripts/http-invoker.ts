// The HTTP ingress seen as a TargetInvoker: what `npm run call` uses against a host with `ingress`.
import { type SendReceipt, TerminalError } from "cairn";
import type { Target, TargetInvoker } from "../sdk/internal.js";
import { ScriptError } from "./local-nats.js";

/** The path of a target under the ingress, Restate-style: /Type/key/handler or /Type/handler. */
export function ingressPath(target: Target): string {
  const parts = target.type === "object" ? [target.name, target.key, target.handler] : [target.name, target.handler];
  return `/${parts.map(encodeURIComponent).join("/")}`;
}

/**
 * Calls and sends over HTTP. A JSON error answer `{code, message}` becomes a `TerminalError` with
 * that `errorCode`, as the in-process and NATS clients report it; a host that cannot be reached is a
 * `ScriptError` saying so.
 */
export function httpInvoker(baseUrl: string): TargetInvoker {
  const post = async (path: string, input: unknown, idempotencyKey: string | undefined): Promise<unknown> => {
    const headers: Record<string, string> = { accept: "application/json" };
    if (input !== undefined) headers["content-type"] = "application/json";
    if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey;
    // An ingress started with a token (CAIRN_INGRESS_TOKEN) refuses calls without it.
    const token = process.env.CAIRN_INGRESS_TOKEN;
    if (token) headers.authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, { method: "POST", headers, body: input === undefined ? undefined : JSON.stringify(input) });
    } catch (error) {
      const reason = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new ScriptError(`cannot reach a Cairn host at ${baseUrl} (${reason}). Is \`npm start\` running? Give its ingress with --url, or --nats URL for a NATS host.`);
    }
    const text = await response.text();
    const body = parseJson(text);
    if (response.ok) return body;
    const message = isErrorBody(body) ? body.message : `HTTP ${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ""}`;
    throw new TerminalError(message, { errorCode: isErrorBody(body) ? body.code : response.status });
  };
  return {
    call: (target, input, options) => post(ingressPath(target), input, options?.idempotencyKey),
    send: async (target, input, options) => {
      const delay = options?.delayMs ? `?delayMs=${options.delayMs}` : "";
      return (await post(`${ingressPath(target)}/send${delay}`, input, options?.idempotencyKey)) as SendReceipt;
    },
  };
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isErrorBody(body: unknown): body is { code: number; message: string } {
  return typeof body === "object" && body !== null && "code" in body && typeof body.code === "number" && "message" in body && typeof body.message === "string";
}
