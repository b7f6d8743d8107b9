// The parts of `cairn call` and `cairn send`'s command line: the target, the JSON input, durations.
import { UsageError } from "./errors.js";
import type { Target } from "../sdk/internal.js";

export const DEFAULT_INGRESS_URL = "http://127.0.0.1:8080";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `10s`, `500ms`, `5m`, `2h`, `1d`, or a bare number of milliseconds, for the option `flag`. */
export function parseDuration(text: string, flag = "--delay"): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  const unit = match?.[2] as keyof typeof UNIT_MS | undefined;
  if (!match) throw new UsageError(`${flag} must be a duration such as 500ms, 10s, 5m, 2h or 1d (got "${text}")`);
  return Math.round(Number(match[1]) * UNIT_MS[unit ?? "ms"]);
}

export function parseTarget(address: string): Target {
  const parts = address.split("/");
  if (parts.some((part) => part.length === 0)) throw new UsageError(`"${address}" has an empty part: write Type/key/handler or Type/handler`);
  const [name = "", second = "", third] = parts;
  if (parts.length === 3 && third !== undefined) return { type: "object", name, key: second, handler: third };
  if (parts.length === 2) return { type: "service", name, handler: second };
  throw new UsageError(`"${address}" is not Type/key/handler (an object) or Type/handler (a service)`);
}

export function parseInput(json: string | undefined): unknown {
  if (json === undefined) return undefined;
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new UsageError(`the input is not JSON (${error instanceof Error ? error.message : String(error)}): ${json}`);
  }
}

export function ingressUrl(text: string): string {
  if (!URL.canParse(text) || !/^https?:$/.test(new URL(text).protocol)) throw new UsageError(`--url must be an http:// or https:// URL (got "${text}")`);
  return text.replace(/\/+$/, "");
}
