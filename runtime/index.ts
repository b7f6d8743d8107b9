export type { Host } from "./host.js";
export { startHost } from "./host.js";
export type { HostOptions } from "./config.js";
export { ConfigError, HostClosedError, AttemptTimeoutError, JetStreamUnavailableError } from "./errors.js";
