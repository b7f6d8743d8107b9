export type { CairnClient, ConnectOptions } from "./client.js";
export { connect } from "./client.js";
export type { NatsConnectionOptions } from "./nats/index.js";
