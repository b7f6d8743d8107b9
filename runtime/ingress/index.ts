export type { IngressOptions, Ingress } from "./server.js";
export { startIngress } from "./server.js";
export type { ErrorAnswer } from "./answers.js";
export { errorAnswer, resultJson } from "./answers.js";
export { HttpError } from "./http-error.js";
export { requireBearer } from "./bearer.js";
export { listen } from "./listen.js";
