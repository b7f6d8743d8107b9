import { type MsgHdrs, headers as natsHeaders } from "nats";
import { TerminalError } from "../../errors.js";
import { type Envelope, messageDedupId, objectKeyProblem, targetLabel } from "../../protocol/index.js";

/**
 * Over NATS, the metadata of an invocation travels in headers, so that a host can name the target
 * and answer the caller even when the body does not decode. The body is the msgpack-encoded input.
 */
export const Header = {
  InvocationId: "Cairn-Invocation-Id",
  Target: "Cairn-Target",
  Key: "Cairn-Key",
  ReplyTo: "Cairn-Reply-To",
  CallId: "Cairn-Call-Id",
  DelayMs: "Cairn-Delay-Ms",
  /** A handler's call: where its result goes (JSON). */
  Caller: "Cairn-Caller",
  /** The exclusive keys held up a call chain (JSON list). */
  Chain: "Cairn-Chain",
  /** A complete-entry command (JSON `{ index, from? }`). */
  Completes: "Cairn-Completes",
  /** A control command (`cancel`, `kill`, `resume`); only on a partition's control subject. */
  Control: "Cairn-Control",
  MsgId: "Nats-Msg-Id",
} as const;

/**
 * Headers of an inbox message. With `dedupData` (the message's body), JetStream drops a copy of
 * the same message published again (`Nats-Msg-Id`, see `messageDedupId`). Only a NATS reply
 * address can travel: an in-process caller cannot be answered over NATS.
 */
export function envelopeHeaders(envelope: Envelope, dedupData?: Uint8Array): MsgHdrs {
  const h = natsHeaders();
  // A delayed send and the send its timer releases later are two messages: their ids differ, or
  // JetStream would drop the second as a copy of the first within its duplicate window.
  // Likewise a complete-entry command and the invocation it completes, and the calls of two
  // handlers to one idempotency key: each caller must be heard, to be answered.
  const delay = envelope.delayMs ? ` after ${envelope.delayMs} ms` : "";
  const completes = envelope.completes ? ` completes ${envelope.completes.index}` : "";
  const caller = envelope.caller ? ` for ${envelope.caller.invocationId} at ${envelope.caller.index}` : "";
  const control = envelope.control ? ` ${envelope.control}` : "";
  if (dedupData) h.set(Header.MsgId, messageDedupId(envelope.invocationId, `${targetLabel(envelope.target)}${delay}${completes}${caller}${control}`, dedupData));
  h.set(Header.InvocationId, envelope.invocationId);
  const { target, replyTo } = envelope;
  h.set(Header.Target, `${target.type}:${target.name}.${target.handler}`);
  if (target.type === "object") {
    // A key with a lone surrogate has no UTF-8 form: refused with a TerminalError, not encodeURIComponent's URIError.
    const problem = objectKeyProblem(target.key);
    if (problem !== undefined) throw new TerminalError(`${target.name}.${target.handler}: ${problem}`, { errorCode: 400 });
    // Keys are arbitrary strings; header values may not hold CR/LF, so they travel URI-encoded.
    h.set(Header.Key, encodeURIComponent(target.key));
  }
  if (replyTo) {
    if (replyTo.kind !== "nats") throw new Error(`${targetLabel(target)}: an in-process caller cannot be answered over NATS`);
    h.set(Header.ReplyTo, replyTo.subject);
    h.set(Header.CallId, replyTo.callId);
  }
  if (envelope.delayMs !== undefined && envelope.delayMs > 0) h.set(Header.DelayMs, String(envelope.delayMs));
  // JSON escapes every control character: no CR or LF reaches a header value.
  if (envelope.caller) h.set(Header.Caller, JSON.stringify(envelope.caller));
  if (envelope.chain?.length) h.set(Header.Chain, JSON.stringify(envelope.chain));
  if (envelope.completes) h.set(Header.Completes, JSON.stringify(envelope.completes));
  if (envelope.control) h.set(Header.Control, envelope.control);
  return h;
}
