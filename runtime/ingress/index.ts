export type { IngressOptions, Ingress } from "./server.js";
export { startIngress } from "./server.js";
export type { Route } from "./routes.js";
export { parseRoute } from "./routes.js";
export { HttpError } from "./http-error.js";
