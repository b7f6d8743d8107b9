import type { IncomingMessage } from "node:http";
import { HttpError } from "./http-error.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The request body parsed as JSON, or `undefined` for an empty (or all-whitespace) body. Over
 * `maxBytes` it rejects with 413 as soon as the count passes the limit, keeping nothing beyond
 * it: a declared `content-length` is refused before a byte is read.
 */
export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(tooLarge(maxBytes, `${declared} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer): void => {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) {
        cleanup();
        chunks.length = 0;
        reject(tooLarge(maxBytes, `over ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      try {
        resolve(parseJson(Buffer.concat(chunks, bytes)));
      } catch (error) {
        reject(error);
      }
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new HttpError(400, "the request body could not be read", { cause: error }));
    };
    // A connection closed mid-body (by the client, or by the server's request timeout) may end
    // the request without "end" or "error".
    const onClose = (): void => {
      cleanup();
      reject(new HttpError(400, "the connection closed before the whole request body arrived"));
    };
    const cleanup = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function tooLarge(maxBytes: number, got: string): HttpError {
  return new HttpError(413, `the request body is larger than the limit of ${maxBytes} bytes (got ${got})`);
}

function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (error) {
    throw new HttpError(400, "the request body is not valid UTF-8", { cause: error });
  }
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, `the request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
