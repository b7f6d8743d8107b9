// Human output: aligned columns for lists, and the short forms of values and times they show.

/** One column: its header and how a row shows in it. */
export interface Column<R> {
  header: string;
  cell: (row: R) => string;
}

/** Rows under a header, columns padded to their widest cell; `empty` when there are no rows. */
export function table<R>(rows: readonly R[], columns: readonly Column<R>[], empty: string): string {
  if (rows.length === 0) return empty;
  const cells = rows.map((row) => columns.map((column) => column.cell(row)));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => line[i]?.length ?? 0)));
  const render = (line: readonly string[]) =>
    line
      .map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [render(columns.map((column) => column.header)), ...cells.map(render)].join("\n");
}

/** The widest a value is shown in a table before it is cut (`--json` shows it whole). */
export const CELL_WIDTH = 60;

/** `value` as one line of JSON, cut to `width` with a trailing `…`; whether it was cut. */
export function shortJson(value: unknown, width = CELL_WIDTH): { text: string; cut: boolean } {
  const text = value === undefined ? "-" : (JSON.stringify(value) ?? String(value));
  return text.length <= width ? { text, cut: false } : { text: `${text.slice(0, width - 1)}…`, cut: true };
}

/** A wall-clock time in ISO 8601 (UTC, to the millisecond); `-` when absent. */
export function time(ms: number | undefined): string {
  return ms === undefined ? "-" : new Date(ms).toISOString();
}

/** `Type/key/handler`, or `Type/handler` for a service. */
export function targetLabel(target: { object: string; key?: string; handler: string }): string {
  return target.key === undefined ? `${target.object}/${target.handler}` : `${target.object}/${target.key}/${target.handler}`;
}
