export type { IngressOptions, Ingress } from "./server.js";
export { startIngress } from "./server.js";
