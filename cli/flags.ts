// Commander hands an action its options untyped; each command parses them once here, at its edge.
import { z } from "zod";
import { UsageError } from "./errors.js";

/** `options` parsed by `schema`; a failure is a usage error naming the option. */
export function parseFlags<S extends z.ZodType>(schema: S, options: unknown): z.infer<S> {
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const flag = issue?.path.map(String).join(".").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  throw new UsageError(flag ? `--${flag}: ${issue?.message}` : z.prettifyError(parsed.error));
}

/** A whole number from `min` on, as a string option gives it. */
export const count = (min: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min));

/** What a command prints: JSON for `--json`, lines for a person otherwise. */
export interface Rendered {
  json: unknown;
  text: string;
}

export function emit(rendered: Rendered, json: boolean): void {
  console.log(json ? JSON.stringify(rendered.json, null, 2) : rendered.text);
}
