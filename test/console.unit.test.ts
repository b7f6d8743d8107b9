import { describe, expect, it } from "vitest";
import { consoleResponse } from "../runtime/admin/console/index.js";

describe("the web console's assets", () => {
  it("serves the page at / and its script and stylesheet under /console/", () => {
    const page = consoleResponse("/");
    expect(page?.type).toBe("text/html; charset=utf-8");
    expect(page?.body).toContain('<script src="/console/app.js" defer></script>');
    expect(page?.body).toContain('<link rel="stylesheet" href="/console/app.css">');
    expect(consoleResponse("/console/app.js")?.type).toBe("text/javascript; charset=utf-8");
    expect(consoleResponse("/console/app.css")?.type).toBe("text/css; charset=utf-8");
  });

  it("answers nothing for paths that are not the console's", () => {
    for (const path of ["/api/services", "/health", "/console/", "/console/other.js", "/index.html", ""]) {
      expect(consoleResponse(path), path).toBeUndefined();
    }
  });

  it("sends a content security policy that allows no inline script and no other origin", () => {
    const csp = consoleResponse("/")?.headers["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(consoleResponse("/console/app.js")?.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("ships a script that parses and never turns a string into markup", () => {
    const script = consoleResponse("/console/app.js")?.body ?? "";
    expect(() => new Function(script)).not.toThrow();
    for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]) {
      expect(script, sink).not.toContain(sink);
    }
  });
});
