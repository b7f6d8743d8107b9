import { ErrorCode, type JetStreamManager, type NatsConnection, NatsError } from "nats";
import { JetStreamUnavailableError } from "../../errors.js";

/** JetStream's API error code for "jetstream not enabled for account". */
const JS_NOT_ENABLED_FOR_ACCOUNT = 10039;

/**
 * The connection's JetStream manager, once the server has shown it serves JetStream to this
 * account. Without JetStream the API request has no responder (a bare "503"), or the server answers
 * "not enabled for account"; either becomes a {@link JetStreamUnavailableError} that says what to change.
 */
export async function requireJetStream(nc: NatsConnection): Promise<JetStreamManager> {
  try {
    return await nc.jetstreamManager();
  } catch (error) {
    const server = nc.getServer();
    if (error instanceof NatsError && error.code === ErrorCode.NoResponders) {
      throw new JetStreamUnavailableError(
        `the NATS server at ${server} does not have JetStream enabled: start it with \`nats-server -js\` (or a \`jetstream {}\` block in its config); Cairn keeps its inboxes, changelogs and leases in JetStream`,
        { cause: error },
      );
    }
    if (apiErrorCode(error) === JS_NOT_ENABLED_FOR_ACCOUNT) {
      throw new JetStreamUnavailableError(
        `the NATS server at ${server} does not enable JetStream for this connection's account: give the account \`jetstream: enabled\` in the server config; Cairn keeps its inboxes, changelogs and leases in JetStream`,
        { cause: error },
      );
    }
    throw error;
  }
}

function apiErrorCode(error: unknown): unknown {
  if (typeof error !== "object" || error === null || !("api_error" in error)) return undefined;
  const apiError: unknown = error.api_error;
  return typeof apiError === "object" && apiError !== null && "err_code" in apiError ? apiError.err_code : undefined;
}
