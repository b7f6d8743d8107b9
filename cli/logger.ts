// The logger `npm start` gives its host: lines a person can read on a terminal, JSON otherwise.
import pino, { type Logger } from "pino";
import pretty from "pino-pretty";

const LevelSchema = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
type Level = (typeof LevelSchema)[number];

/**
 * A pino logger writing to stderr: through pino-pretty (colours, local time, no pid/hostname) when
 * stderr is a terminal (one line per entry, the component before the message), as pino's JSON lines when it is a file or a pipe, so that a log collector
 * still gets one object per line. Level: `CAIRN_LOG_LEVEL`, default info.
 */
export function scriptLogger(env: NodeJS.ProcessEnv = process.env, terminal = process.stderr.isTTY === true): Logger {
  const level = parseLevel(env.CAIRN_LOG_LEVEL);
  if (!terminal) return pino({ level }, pino.destination(2));
  // Synchronous, in this thread: a worker transport would lose the last lines of a process that exits.
  return pino(
    { level },
    pretty({
      destination: 2,
      sync: true,
      colorize: true,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname,component",
      messageFormat: "{if component}{component}: {end}{msg}",
      singleLine: true,
    }),
  );
}

function parseLevel(value: string | undefined): Level {
  if (value === undefined) return "info";
  const level = LevelSchema.find((candidate) => candidate === value);
  if (!level) throw new Error(`CAIRN_LOG_LEVEL must be one of ${LevelSchema.join(", ")} (got "${value}")`);
  return level;
}
