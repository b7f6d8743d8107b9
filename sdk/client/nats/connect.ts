import { connect as natsConnect } from "nats";
import { z } from "zod";
import { type CairnClient, Client } from "../client.js";
import { checkCredentials, natsClientOptions, natsConnectionFields } from "./connection.js";
import { NatsClientTransport } from "./transport.js";

const ConnectOptionsSchema = z
  .object({
    ...natsConnectionFields,
    /** Subject and stream namespace; must match the hosts'. @default "cairn" */
    namespace: z.string().regex(/^[A-Za-z0-9_-]+$/).default("cairn"),
    /** How long a call waits for its result. @default 30000 */
    timeoutMs: z.number().int().positive().default(30_000),
    /** The NATS connection name, shown by `nats-server` monitoring. @default "cairn-client" */
    name: z.string().default("cairn-client"),
  })
  .strict()
  .superRefine(checkCredentials);

/** Options of {@link connect}. */
export type ConnectOptions = z.input<typeof ConnectOptionsSchema>;

/**
 * Connects an external client to the NATS servers the hosts use.
 *
 * @example
 * const cairn = await connect({ servers: "nats://127.0.0.1:4222" });
 * const { itemCount } = await cairn.objectClient(shoppingCart, "user-1").addItem(item, { idempotencyKey: "req-42" });
 */
export async function connect(options: ConnectOptions): Promise<CairnClient> {
  const parsed = ConnectOptionsSchema.safeParse(options);
  if (!parsed.success) throw new TypeError(`invalid connect options:\n${z.prettifyError(parsed.error)}`);
  const config = parsed.data;
  const nc = await natsConnect(natsClientOptions(config, config.name));
  return new Client(new NatsClientTransport(nc, { namespace: config.namespace, inboxPrefix: config.inboxPrefix }), config);
}

