// The `cairn` command line: its commands, and how a run ends (exit codes, one line per error).
import { Command, CommanderError } from "commander";
import { callCommand, sendCommand } from "./commands/call.js";
import { invocationsCommand } from "./commands/invocations.js";
import { partitionsCommand, servicesCommand, timersCommand } from "./commands/namespace.js";
import { startCommand } from "./commands/start.js";
import { stateCommand } from "./commands/state.js";
import { ExitCode, UsageError, describeError, exitCodeOf } from "./errors.js";

const EXIT_CODES = `
Exit codes:
  0  done
  1  the call, the handler or the command failed
  2  usage error (the command line does not parse)
  3  cannot reach the host, its admin endpoint or the NATS server
  4  not found (target, invocation or key)

Read commands ask an embedded host's admin endpoint (--admin URL, default http://127.0.0.1:9070) or
every host of a NATS namespace (--nats URL --namespace NAME); --token or CAIRN_ADMIN_TOKEN gives the
bearer token. --json prints JSON for scripts.`;

/** The whole `cairn` program; `version` is the package's. */
export function cairnProgram(version: string): Command {
  const program = new Command("cairn")
    .description("run and inspect Cairn hosts: durable virtual objects over NATS JetStream and LMDB")
    .version(version)
    .addHelpText("after", EXIT_CODES)
    .addCommand(startCommand())
    .addCommand(callCommand())
    .addCommand(sendCommand())
    .addCommand(stateCommand())
    .addCommand(invocationsCommand())
    .addCommand(timersCommand())
    .addCommand(partitionsCommand())
    .addCommand(servicesCommand());
  configure(program);
  return program;
}

/**
 * Every command throws instead of exiting (so that the exit code is decided here), reads its own
 * options after its name (`cairn invocations show ID --json`), and points at its help after an error.
 */
function configure(command: Command): void {
  command
    .exitOverride()
    .enablePositionalOptions()
    .showHelpAfterError(`(${command.name() === "cairn" ? "cairn" : `cairn ${commandPath(command)}`} --help for usage)`);
  for (const sub of command.commands) configure(sub);
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at?.parent; at = at.parent) names.unshift(at.name());
  return names.join(" ");
}

/** Runs the command line and returns the exit code; errors are printed as one line, never a stack. */
export async function runCairn(argv: readonly string[], version: string): Promise<ExitCode> {
  const program = cairnProgram(version);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed its message (or the help) already.
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    console.error(describeError(error));
    if (error instanceof UsageError) console.error("(--help for usage)");
    return exitCodeOf(error);
  }
}
