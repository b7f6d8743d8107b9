// What `cairn/testing` needs from the runtime beyond its public surface. Not for users.
export type { Clock } from "./clock.js";
export { systemClock } from "./clock.js";
export type { Host, HostInternals, InternalHost } from "./host.js";
export { startHostWith } from "./host.js";
export type { HostOptions } from "./config.js";
