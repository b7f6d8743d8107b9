import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError } from "../errors.js";

/**
 * Starts `server` listening and returns its base URL. A taken port is a `ConfigError` naming the
 * option (`what`) to change, not a bare EADDRINUSE.
 */
export async function listen(server: Server, port: number, host: string, what: string, whoElse = ""): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      if (error.code !== "EADDRINUSE") return reject(error);
      reject(new ConfigError(`${what}: port ${port} on ${host} is taken${whoElse}; give ${what} another port, or port 0 for a free one`, { cause: error }));
    };
    server.once("error", failed);
    server.listen(port, host, () => {
      server.off("error", failed);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
}
