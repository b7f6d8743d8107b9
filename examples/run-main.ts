import { pathToFileURL } from "node:url";

/**
 * Runs an example's `main` when its file is the program (`npm run example:…`), not when a test
 * imports it for its definitions; a failure is printed and sets a non-zero exit code.
 */
export function runWhenMain(moduleUrl: string, main: () => Promise<void>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
