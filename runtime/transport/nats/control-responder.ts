import type { NatsConnection } from "nats";
import type { Logger } from "pino";
import { z } from "zod";
import { type ControlCommand, type ControlReply, controlRequestSubject, parseInvocationId } from "../../../sdk/internal.js";

const ControlRequest = z.object({ command: z.enum(["cancel", "kill", "resume"]), invocationId: z.string() });

/**
 * Answers operators' control commands (`client.cancel/kill/resume` over NATS) for the partitions this
 * host serves. Every host answers each request: the one holding the invocation takes the command
 * (durably) and says so; the others say where they looked. Only hosts' (operators') credentials may
 * publish here (see nats-auth.conf): a client that may call handlers cannot kill invocations.
 */
export function serveControl(
  nc: NatsConnection,
  namespace: string,
  control: (command: ControlCommand, invocationId: string) => Promise<ControlReply>,
  log: Logger,
): void {
  nc.subscribe(controlRequestSubject(namespace), {
    callback: (err, msg) => {
      if (err || !msg.reply) return;
      const answer = (body: ControlReply | { error: string }) => {
        try {
          msg.respond(JSON.stringify(body));
        } catch (error) {
          log.warn({ err: error }, "could not answer a control command");
        }
      };
      let request: z.infer<typeof ControlRequest>;
      try {
        request = ControlRequest.parse(JSON.parse(new TextDecoder().decode(msg.data)));
      } catch {
        return answer({ error: "malformed control command: expected JSON { command: cancel|kill|resume, invocationId }" });
      }
      const invocationId = parseInvocationId(request.invocationId);
      if (!invocationId) return answer({ error: `${JSON.stringify(request.invocationId.slice(0, 80))} is not an invocation id` });
      control(request.command, invocationId).then(answer, (error: unknown) => {
        log.warn({ err: error, invocationId, command: request.command }, "control command failed");
        answer({ error: `the ${request.command} failed on this host: ${String(error)}` });
      });
    },
  });
}
