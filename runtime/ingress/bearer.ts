import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { HttpError } from "./http-error.js";

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Refuses (401) a request without `Authorization: Bearer <token>` when a token is set. Compared in
 * constant time over digests, so that neither the token's characters nor its length leak in timing.
 */
export function requireBearer(req: IncomingMessage, token: string | undefined): void {
  if (token === undefined) return;
  const header = req.headers.authorization;
  const match = typeof header === "string" ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  const given = match?.[1] ?? "";
  if (!timingSafeEqual(digest(given), digest(token)) || match === null) {
    throw new HttpError(401, "this endpoint requires a bearer token: send the header Authorization: Bearer <token>", { headers: { "www-authenticate": 'Bearer realm="cairn"' } });
  }
}
