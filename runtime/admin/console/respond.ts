import { consolePage, consoleStyles } from "./page.js";
import { consoleScript } from "./script.js";

/** One of the console's files, ready to send. */
export interface ConsoleAsset {
  status: 200;
  /** The `content-type` header. */
  type: string;
  body: string;
  /** Headers to send with it besides `content-type`. */
  headers: Readonly<Record<string, string>>;
}

// The page loads only its own script and stylesheet and talks only to this origin: an injected `<script>` or
// `onerror=` would not run even if a value ever slipped past the script's text-only rendering.
const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // A host upgraded in place serves a new console; the browser must not keep the old one.
  "cache-control": "no-cache",
} as const;

/** The console's path prefix for its assets (the page itself is `/`). */
export const consoleAssetPrefix = "/console/";

const assets: ReadonlyMap<string, ConsoleAsset> = new Map([
  ["/", asset("text/html; charset=utf-8", consolePage)],
  [`${consoleAssetPrefix}app.js`, asset("text/javascript; charset=utf-8", consoleScript)],
  [`${consoleAssetPrefix}app.css`, asset("text/css; charset=utf-8", consoleStyles)],
]);

function asset(type: string, body: string): ConsoleAsset {
  return { status: 200, type, body, headers: securityHeaders };
}

/**
 * The console's answer to `GET path` (the path without its query), or `undefined` when the path is not the
 * console's. The admin server calls it before its token check: the page itself holds no data, and it asks
 * for the token to send with its API requests.
 */
export function consoleResponse(path: string): ConsoleAsset | undefined {
  return assets.get(path);
}
