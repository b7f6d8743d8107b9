export type { ConsoleAsset } from "./respond.js";
export { consoleResponse, consoleAssetPrefix } from "./respond.js";
