export type { NatsConnection, NatsConnectionOptions } from "./connection.js";
export { HOST_INBOX_PREFIX, HostNatsConnectionSchema, InboxPrefixSchema, NatsConnectionSchema, natsClientOptions, natsConnectionFields, checkCredentials } from "./connection.js";
export { Header, envelopeHeaders } from "./headers.js";
export type { PubAck } from "./publisher.js";
export { JetStreamPublisher, PublishRefusedError, PubAckTimeoutError } from "./publisher.js";
export { NatsClientTransport } from "./transport.js";
