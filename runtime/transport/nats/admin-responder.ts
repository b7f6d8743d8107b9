import type { NatsConnection } from "nats";
import type { Logger } from "pino";
import { z } from "zod";
import { type AdminReply, type AdminSource, answerQuery, isAdminOp } from "../../admin/index.js";

/** The subject of an admin query: every host of the namespace answers it for the partitions it owns. */
export function adminSubject(namespace: string, op: string): string {
  return `${namespace}.admin.${op}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Answers `<namespace>.admin.<op>` requests from this host's partitions, as JSON. Not a queue group:
 * every host answers, and the reader merges. Only the hosts' account reaches these subjects (see
 * nats-auth.conf: they are not exported to the clients' account).
 */
export function serveAdminQueries(nc: NatsConnection, namespace: string, hostId: string, source: AdminSource, log: Logger): () => Promise<void> {
  const sub = nc.subscribe(adminSubject(namespace, "*"), {
    callback: (error, msg) => {
      if (error) {
        log.warn({ err: error }, "admin subscription failed");
        return;
      }
      if (!msg.reply) return;
      const op = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
      // Control commands share the admin subjects' permissions; control-responder.ts answers them.
      if (op === "control") return;
      const reply = msg.reply;
      void (async (): Promise<AdminReply<never>> => {
        if (!isAdminOp(op)) return { ok: false, hostId, error: `unknown admin query "${op}"` };
        try {
          const body: unknown = msg.data.length === 0 ? {} : JSON.parse(decoder.decode(msg.data));
          return { ok: true, hostId, answer: (await answerQuery(source, op, body)) as never };
        } catch (err) {
          if (err instanceof SyntaxError || err instanceof z.ZodError) return { ok: false, hostId, error: `admin query ${op}: ${err instanceof z.ZodError ? z.prettifyError(err) : err.message}` };
          log.error({ err, op }, "admin query failed");
          return { ok: false, hostId, error: `admin query ${op} failed on host ${hostId}; its log has the cause` };
        }
      })().then((answer) => {
        try {
          nc.publish(reply, encoder.encode(JSON.stringify(answer, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))));
        } catch (err) {
          log.warn({ err, op }, "admin answer could not be sent");
        }
      });
    },
  });
  return async () => {
    sub.unsubscribe();
  };
}
