// `npm run call`'s command line, parsed once.
import { parseArgs } from "node:util";
import { UsageError } from "./cli.js";
import type { Target } from "../sdk/internal.js";

export const DEFAULT_INGRESS_URL = "http://127.0.0.1:8080";

export const CALL_USAGE = `usage: npm run call -- Type/key/handler [JSON] [options]     (Type/handler [JSON] for a service)

  --url URL                 the host's HTTP ingress (default ${DEFAULT_INGRESS_URL})
  --nats URL                call through NATS instead (CAIRN_NATS_URL; credentials from CAIRN_NATS_USER/…)
  --idempotency-key K       calls and sends with the same K run once; every retry gets the first result
  --send                    a one-way send: prints the invocation id once the host durably accepted it
  --delay D                 a delayed send (implies --send): 500ms, 10s, 5m, 2h, 1d (a bare number is ms)
  --help                    this text`;

/** How the call reaches the host. */
export type CallTransport = { type: "http"; url: string } | { type: "nats"; url: string };

export interface CallRequest {
  target: Target;
  /** The parsed JSON input; undefined when none was given. */
  input: unknown;
  transport: CallTransport;
  idempotencyKey: string | undefined;
  /** A one-way send, with its delay (0 = none); undefined for a call that waits for the result. */
  send: { delayMs: number } | undefined;
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `10s`, `500ms`, `5m`, `2h`, `1d`, or a bare number of milliseconds. */
export function parseDelay(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  const unit = match?.[2] as keyof typeof UNIT_MS | undefined;
  if (!match) throw new UsageError(`--delay must be a duration such as 500ms, 10s, 5m, 2h or 1d (got "${text}")`);
  return Math.round(Number(match[1]) * UNIT_MS[unit ?? "ms"]);
}

export function parseCallArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CallRequest {
  let parsed: { values: { url?: string; nats?: string; "idempotency-key"?: string; send?: boolean; delay?: string }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        url: { type: "string" },
        nats: { type: "string" },
        "idempotency-key": { type: "string" },
        send: { type: "boolean" },
        delay: { type: "string" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const [address, json, ...rest] = positionals;
  if (address === undefined) throw new UsageError("name the handler to call: Type/key/handler (an object) or Type/handler (a service)");
  if (rest.length > 0) throw new UsageError(`one JSON input at most (got also ${rest.map((r) => JSON.stringify(r)).join(", ")}); quote the JSON`);
  if (values.url !== undefined && values.nats !== undefined) throw new UsageError("--url and --nats name two ways to reach the host: give one");
  const natsUrl = values.nats ?? (values.url === undefined ? env.CAIRN_NATS_URL : undefined);
  const transport: CallTransport = natsUrl === undefined ? { type: "http", url: ingressUrl(values.url ?? DEFAULT_INGRESS_URL) } : { type: "nats", url: natsUrl };
  const delayMs = values.delay === undefined ? 0 : parseDelay(values.delay);
  return {
    target: parseTarget(address),
    input: parseInput(json),
    transport,
    idempotencyKey: values["idempotency-key"],
    send: values.send || values.delay !== undefined ? { delayMs } : undefined,
  };
}

function parseTarget(address: string): Target {
  const parts = address.split("/");
  if (parts.some((part) => part.length === 0)) throw new UsageError(`"${address}" has an empty part: write Type/key/handler or Type/handler`);
  const [name = "", second = "", third] = parts;
  if (parts.length === 3 && third !== undefined) return { type: "object", name, key: second, handler: third };
  if (parts.length === 2) return { type: "service", name, handler: second };
  throw new UsageError(`"${address}" is not Type/key/handler (an object) or Type/handler (a service)`);
}

function parseInput(json: string | undefined): unknown {
  if (json === undefined) return undefined;
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new UsageError(`the input is not JSON (${error instanceof Error ? error.message : String(error)}): ${json}`);
  }
}

function ingressUrl(text: string): string {
  if (!URL.canParse(text) || !/^https?:$/.test(new URL(text).protocol)) throw new UsageError(`--url must be an http:// or https:// URL (got "${text}")`);
  return text.replace(/\/+$/, "");
}
