export type { CairnClient, ConnectOptions } from "./client.js";
export { connect } from "./client.js";
