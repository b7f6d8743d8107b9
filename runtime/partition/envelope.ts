import type { MsgHdrs } from "nats";
import { type Envelope, Header, type ReplyAddress, type Target, objectKeyProblem, parseInvocationId } from "../../sdk/internal.js";

/** An inbox message's metadata, or why it cannot be run (with whom to tell, when known). */
export type ParsedEnvelope =
  | { ok: true; envelope: Envelope }
  | { ok: false; problem: string; label: string; replyTo: ReplyAddress | undefined };

const TARGET_PATTERN = /^(object|service):([A-Za-z][A-Za-z0-9_]*)\.([A-Za-z][A-Za-z0-9_]*)$/;
// A subject the host can publish to: no white space, no wildcards, not empty.
const REPLY_SUBJECT_PATTERN = /^[^\s*>]{1,255}$/;

export function parseEnvelope(headers: MsgHdrs | undefined): ParsedEnvelope {
  const subject = headers?.get(Header.ReplyTo);
  const callId = headers?.get(Header.CallId);
  const replyTo = subject && callId && REPLY_SUBJECT_PATTERN.test(subject) ? { subject, callId } : undefined;
  const rawTarget = headers?.get(Header.Target) ?? "";
  const match = TARGET_PATTERN.exec(rawTarget);
  const label = match ? `${match[2]}.${match[3]}` : "(unknown target)";
  const bad = (problem: string): ParsedEnvelope => ({ ok: false, problem: `${label}: ${problem}`, label, replyTo });

  if (!headers) return bad("message has no Cairn headers");
  if (subject && !replyTo) return bad(`malformed ${Header.ReplyTo} header "${subject}"`);
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
  return { ok: true, envelope: replyTo ? { invocationId, target, replyTo } : { invocationId, target } };
}
