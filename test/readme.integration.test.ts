// What a newcomer does with the README: compile its TypeScript snippets as written, and run a file of
// their own that imports "cairn" from a new folder inside the repo.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "..");

/** The ```ts blocks of README.md, in order. */
function readmeSnippets(): string[] {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? "");
}

/**
 * What a snippet may leave undefined, because the README leaves it to the reader: a payment
 * provider, and a sum. Anything else a snippet uses must be defined by it or by an earlier one.
 */
const READER_SUPPLIED: Record<string, string> = {
  payments: "declare const payments: { charge(customer: string, amountCents: number): Promise<{ orderId: string }> };",
  total: "declare function total(items: ReadonlyArray<{ qty: number; priceCents: number }>): number;",
};

/** Type errors of `files`, compiled with the repo's tsconfig. */
function typecheck(files: string[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(REPO, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  if (!config) throw new Error("tsconfig.json does not parse");
  const program = ts.createProgram(files, config.options);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.includes(d.file.fileName))
    .map((d) => `${d.file?.fileName.slice(REPO.length + 1)}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
}

describe("the README", () => {
  // A new folder inside the repo, so that "cairn" resolves as it does for a user's file here.
  const dir = mkdtempSync(join(REPO, "readme-snippets-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("has TypeScript snippets that compile as written", () => {
    const snippets = readmeSnippets();
    expect(snippets.length).toBeGreaterThanOrEqual(2);
    const path = (i: number) => join(dir, `snippet-${i}.ts`);
    const exported = new Map<string, number>();
    snippets.forEach((snippet, i) => {
      const missing = [...new Set([...snippet.matchAll(/\b([A-Za-z_]\w*)\b/g)].map((m) => m[1] ?? ""))].filter(
        (name) => !new RegExp(`\\b(const|let|function|class|type|interface|import)\\s+(\\{[^}]*\\b)?${name}\\b|\\b${name}\\s*[,}][^;]*\\bfrom\\b`).test(snippet),
      );
      const prelude = missing.flatMap((name) => {
        const from = exported.get(name);
        if (from !== undefined) return [`import { ${name} } from "./snippet-${from}.js";`];
        return READER_SUPPLIED[name] ? [READER_SUPPLIED[name]] : [];
      });
      for (const m of snippet.matchAll(/\bexport const (\w+)/g)) exported.set(m[1] ?? "", i);
      writeFileSync(path(i), `${prelude.join("\n")}\n${snippet}\nexport {};\n`);
    });
    expect(typecheck(snippets.map((_, i) => path(i)))).toEqual([]);
  });
});

describe("a user's own file in a new folder inside the repo", () => {
  const dir = mkdtempSync(join(REPO, "my-app-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const program = 'import { object } from "cairn";\nimport { startHost } from "cairn/runtime";\nconsole.log(object({ name: "Greeter", handlers: { hi: async () => "hi" } }).name, typeof startHost);\n';
  writeFileSync(join(dir, "main.ts"), program);
  writeFileSync(join(dir, "main.js"), program);
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const run = (args: string[]) => spawnSync(process.execPath, args, { cwd: REPO, env, encoding: "utf8", timeout: 60_000 });

  it.each(["main.ts", "main.js"])("runs %s against the sources: node --conditions=source --import tsx", (file) => {
    const result = run(["--conditions=source", "--import", "tsx", join(dir, file)]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("Greeter function\n");
  });

  // dist/ is what `npm ci` builds (the prepare script); a checkout without it has not run npm ci.
  it.skipIf(!existsSync(join(REPO, "dist", "sdk", "index.js")))("runs main.js with plain node and main.ts with tsx, against the build npm ci made", () => {
    for (const args of [[join(dir, "main.js")], ["--import", "tsx", join(dir, "main.ts")]]) {
      const result = run(args);
      expect(result.stderr).toBe("");
      expect(result.stdout).toBe("Greeter function\n");
    }
  });
});
