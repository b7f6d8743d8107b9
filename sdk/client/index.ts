export type { CairnClient } from "./client.js";
export type { ConnectOptions } from "./nats/connect.js";
export { connect } from "./nats/connect.js";
export type { NatsConnectionOptions } from "./nats/index.js";
