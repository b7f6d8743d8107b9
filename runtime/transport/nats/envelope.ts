import type { MsgHdrs } from "nats";
import type { z } from "zod";
import { type Envelope, Header, type ReplyAddress, type Target, objectKeyProblem, parseInvocationId } from "../../../sdk/internal.js";
import type { ParsedEnvelope } from "../../partition/index.js";
import { CallerSchema, ChainSchema, CompletesSchema } from "./changelog/schemas.js";

const TARGET_PATTERN = /^(object|service):([A-Za-z][A-Za-z0-9_]*)\.([A-Za-z][A-Za-z0-9_]*)$/;
// The tokens after a client's inbox prefix: plain, no wildcards, no white space, no empty token.
const REPLY_TOKENS = /^(\.[A-Za-z0-9_-]+)+$/;

/**
 * Whether the host may answer on `subject`: only under one of the clients' inbox prefixes. Anything
 * else would let a caller make the host publish wherever it may, its own changelog included.
 */
export function isClientReplySubject(subject: string, prefixes: readonly string[]): boolean {
  if (subject.length > 255) return false;
  return prefixes.some((prefix) => subject.startsWith(prefix) && REPLY_TOKENS.test(subject.slice(prefix.length)));
}

/**
 * Reads an inbox message's headers. `replyPrefixes` are the inbox prefixes of the clients this host
 * answers: a message asking for a reply anywhere else is refused, and nobody is told.
 */
export function parseEnvelope(headers: MsgHdrs | undefined, replyPrefixes: readonly string[]): ParsedEnvelope {
  const subject = headers?.get(Header.ReplyTo);
  const callId = headers?.get(Header.CallId);
  const replyTo: ReplyAddress | undefined = subject && callId && isClientReplySubject(subject, replyPrefixes) ? { kind: "nats", subject, callId } : undefined;
  const rawTarget = headers?.get(Header.Target) ?? "";
  const match = TARGET_PATTERN.exec(rawTarget);
  const label = match ? `${match[2]}.${match[3]}` : "(unknown target)";
  const bad = (problem: string): ParsedEnvelope => ({ ok: false, problem: `${label}: ${problem}`, label, replyTo });

  if (!headers) return bad("message has no Cairn headers");
  if (subject && !replyTo) return bad(`${Header.ReplyTo} "${subject}" is not a reply subject of a client (under ${replyPrefixes.join(", ")})`);
  if (!match) return bad(`malformed ${Header.Target} header "${rawTarget}"`);
  const invocationId = parseInvocationId(headers.get(Header.InvocationId));
  if (!invocationId) return bad(`malformed ${Header.InvocationId} header "${headers.get(Header.InvocationId)}"`);
  const [, type, name = "", handler = ""] = match;
  let target: Target;
  if (type === "object") {
    let key: string;
    try {
      key = decodeURIComponent(headers.get(Header.Key));
    } catch {
      return bad(`malformed ${Header.Key} header`);
    }
    if (!headers.has(Header.Key)) return bad(`object message without a ${Header.Key} header`);
    // decodeURIComponent already refuses an encoded lone surrogate; the shared rule keeps it so if that ever changes.
    const problem = objectKeyProblem(key);
    if (problem !== undefined) return bad(problem);
    target = { type: "object", name, key, handler };
  } else {
    target = { type: "service", name, handler };
  }
  const envelope: Envelope = replyTo ? { invocationId, target, replyTo } : { invocationId, target };
  const delay = headers.get(Header.DelayMs);
  if (delay !== "") {
    const delayMs = Number(delay);
    if (!/^\d{1,15}$/.test(delay) || !Number.isSafeInteger(delayMs)) return bad(`malformed ${Header.DelayMs} header "${delay}"`);
    if (delayMs > 0) envelope.delayMs = delayMs;
  }
  for (const [header, field, schema] of [
    [Header.Caller, "caller", CallerSchema],
    [Header.Chain, "chain", ChainSchema],
    [Header.Completes, "completes", CompletesSchema],
  ] as const) {
    const raw = headers.get(header);
    if (raw === "") continue;
    const value = parseJson(raw, schema);
    if (value === undefined) return bad(`malformed ${header} header`);
    Object.assign(envelope, { [field]: value });
  }
  const control = headers.get(Header.Control);
  if (control !== "") {
    if (control !== "cancel" && control !== "kill" && control !== "resume") return bad(`malformed ${Header.Control} header "${control.slice(0, 40)}"`);
    envelope.control = control;
  }
  if (envelope.caller && objectKeyProblem(envelope.caller.target.type === "object" ? envelope.caller.target.key : "") !== undefined) return bad(`malformed ${Header.Caller} header`);
  return { ok: true, envelope };
}

function parseJson<S extends z.ZodType>(raw: string, schema: S): z.output<S> | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
