/**
 * A request the ingress answers itself, with `status`, before (or instead of) reaching a handler:
 * the message goes to the client as `{ "code": status, "message": … }`.
 */
export class HttpError extends Error {
  override name = "HttpError";
  readonly status: number;
  /** Extra response headers (`allow` with a 405). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, options?: ErrorOptions & { headers?: Record<string, string> }) {
    super(message, options);
    this.status = status;
    this.headers = options?.headers ?? {};
  }
}
