export type { CairnClient, ConnectOptions } from "./client.js";
export { connect } from "./client.js";
export type { CallClient, SendClient, CallOptions, SendOptions, SendReceipt } from "../client-types.js";
export { TerminalError, CallTimeoutError } from "../errors.js";
