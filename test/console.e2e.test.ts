import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ObjectContext, type ObjectSharedContext, handlers, object, service } from "cairn";
import { type Host, startHost } from "cairn/runtime";
import type { InvocationSummary } from "../runtime/admin/api.js";
import { eventually, tempDir } from "./helpers/host.js";

// Debian's chromium, which .ci/run installs; CHROMIUM_PATH names another build.
const chromiumPath = [process.env.CHROMIUM_PATH, "/usr/bin/chromium"].find((path) => path !== undefined && existsSync(path));
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const testOutputShot = join(repoRoot, "test-output", "console.png");
const docsShot = join(repoRoot, "docs", "console.png");

if (chromiumPath === undefined) {
  console.warn("console.e2e: SKIPPED, no chromium binary at /usr/bin/chromium or $CHROMIUM_PATH (apt-get install -y chromium)");
}

const DAY_MS = 86_400_000;
const WAIT_MS = 10_000;
const XSS_VALUE = `<img src=x onerror="window.__xss = 'img'"><script>window.__xss = 'script'</script>`;

const cart = object({
  name: "Cart",
  handlers: {
    add: async (ctx: ObjectContext, item: string) => {
      const items = (await ctx.get<string[]>("items")) ?? [];
      items.push(item);
      ctx.set("items", items);
      return items.length;
    },
    items: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<string[]>("items")) ?? []),
    nap: async (ctx: ObjectContext) => {
      await ctx.run("pack-bag", () => "packed");
      await ctx.sleep(DAY_MS);
      return "woke";
    },
    // Fails every attempt; the long first interval keeps it backing off for the whole test.
    flaky: handlers.object.exclusive({ retryPolicy: { initialIntervalMs: 600_000, maxIntervalMs: 600_000, maxAttempts: 10 } }, async () => {
      throw new Error("payment gateway <i>unreachable</i>");
    }),
  },
});

const mailer = service({ name: "Mailer", handlers: { ping: async () => "pong" } });

describe.skipIf(chromiumPath === undefined)(
  `the web console in headless Chromium${chromiumPath === undefined ? " (SKIPPED: no chromium binary at /usr/bin/chromium or $CHROMIUM_PATH; apt-get install -y chromium)" : ""}`,
  () => {
    let host: Host;
    let adminUrl: string;
    let browser: Browser;
    let page: Page;
    const pageErrors: string[] = [];

    const api = async <T,>(path: string): Promise<T> => {
      const response = await fetch(adminUrl + path);
      return (await response.json()) as T;
    };
    const invocations = async () => (await api<{ invocations: InvocationSummary[] }>("/api/invocations")).invocations;
    const invocationOf = async (key: string, handler: string) =>
      (await invocations()).find((inv) => inv.target.key === key && inv.target.handler === handler);

    beforeAll(async () => {
      host = await startHost({ services: [cart, mailer], dataDir: tempDir(), partitions: 4, admin: { port: 0 }, logLevel: "silent", historyEntriesPerKey: 100 });
      adminUrl = host.adminUrl ?? "";
      await host.client.objectClient(cart, "alice").add("book");
      await host.client.objectClient(cart, "alice").add("lamp");
      await host.client.objectClient(cart, "mallory").add(XSS_VALUE);
      await host.client.objectSendClient(cart, "bob").nap();
      await host.client.objectSendClient(cart, "carol").flaky();
      expect(await eventually(async () => (await invocationOf("bob", "nap"))?.status === "suspended", WAIT_MS)).toBe(true);
      expect(await eventually(async () => (await invocationOf("carol", "flaky"))?.status === "backing-off", WAIT_MS)).toBe(true);

      browser = await chromium.launch({ executablePath: chromiumPath, timeout: 30_000 });
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(WAIT_MS);
      page.on("pageerror", (error) => pageErrors.push(error.message));
      await page.goto(adminUrl + "/");
      await page.waitForSelector("body[data-refreshes='1']");
    });

    afterAll(async () => {
      await browser?.close();
      await host?.close();
    });

    it("shows the services with their handlers, and the host it talks to", async () => {
      const services = page.locator("#services");
      await expect.poll(() => services.textContent()).toContain("add · exclusive");
      const text = await services.textContent();
      expect(text).toContain("Cart");
      expect(text).toContain("items · shared");
      expect(text).toContain("Mailer");
      expect(text).toContain("ping · service");
      expect(await page.textContent("#health")).toMatch(/embedded · ready · owns 4 of 4 partitions/);
    });

    it("shows the sleeping and the backing-off invocation with their status and last error", async () => {
      const rows = page.locator("#invocations tbody tr");
      const nap = rows.filter({ hasText: "bob" });
      await expect.poll(() => nap.textContent()).toContain("suspended");
      expect(await nap.textContent()).toContain("Cart/bob/nap");
      const flaky = rows.filter({ hasText: "carol" });
      expect(await flaky.textContent()).toContain("backing-off");
      // The error message holds markup; it must arrive as text.
      expect(await flaky.locator("pre").textContent()).toContain("payment gateway <i>unreachable</i>");
      expect(await page.locator("#invocations i").count()).toBe(0);
    });

    it("filters invocations by status", async () => {
      await page.selectOption("#invocations-form select[name=status]", "backing-off");
      await page.click("#invocations-form button[type=submit]");
      await expect.poll(() => page.locator("#invocations tbody tr").count()).toBe(1);
      expect(await page.locator("#invocations tbody").textContent()).toContain("carol");
      await page.selectOption("#invocations-form select[name=status]", "");
      await page.click("#invocations-form button[type=submit]");
      await expect.poll(() => page.locator("#invocations tbody tr").count()).toBeGreaterThanOrEqual(2);
    });

    it("shows the timers of the sleep and the backoff, and the partitions with their owner", async () => {
      const timers = page.locator("#timers tbody tr");
      expect(await timers.filter({ hasText: "Cart/bob/nap" }).textContent()).toContain("sleep");
      expect(await timers.filter({ hasText: "Cart/carol/flaky" }).textContent()).toContain("retry");
      const partitions = await api<{ partitions: { owner?: string }[] }>("/api/partitions");
      const owner = partitions.partitions[0]?.owner ?? "";
      expect(owner).not.toBe("");
      expect(await page.locator("#partitions table").nth(1).locator("tbody tr").count()).toBe(4);
      expect(await page.locator("#partitions table").first().textContent()).toContain(owner);
    });

    it("looks a key up and shows its state and its history", async () => {
      await page.fill("#state-form input[name=object]", "Cart");
      await page.fill("#state-form input[name=key]", "alice");
      await page.click("#state-form button[type=submit]");
      const state = page.locator("#state .content");
      await expect.poll(() => state.textContent()).toContain("Cart / alice");
      const items = state.locator("tbody tr", { hasText: "items" }).first();
      expect(await items.locator("pre").textContent()).toBe(JSON.stringify(["book", "lamp"], null, 2));
      // Two commits of `add`, newest first.
      const history = state.locator("table").nth(1);
      await expect.poll(() => history.locator("tbody tr").count()).toBe(2);
      expect(await history.locator("tbody tr").first().textContent()).toContain("Cart.add");
    });

    it("renders a state value holding markup as text and runs none of it", async () => {
      await page.fill("#state-form input[name=object]", "Cart");
      await page.fill("#state-form input[name=key]", "mallory");
      await page.click("#state-form button[type=submit]");
      const state = page.locator("#state .content");
      await expect.poll(() => state.textContent()).toContain("Cart / mallory");
      expect(await state.locator("pre").first().textContent()).toBe(JSON.stringify([XSS_VALUE], null, 2));
      expect(await page.locator("img, main script").count()).toBe(0);
      expect(await page.evaluate(() => (globalThis as { __xss?: string }).__xss)).toBeUndefined();
    });

    it("opens an invocation's journal and shows the answer to a control button", async () => {
      const nap = (await invocationOf("bob", "nap"))?.id ?? "";
      await page.locator("#invocations tbody tr", { hasText: "bob" }).getByRole("button", { name: nap }).click();
      const detail = page.locator("#invocation");
      await expect.poll(() => detail.locator(".content").textContent()).toContain("Journal");
      const journal = await detail.locator("table tbody").textContent();
      expect(journal).toContain("pack-bag");
      expect(journal).toContain("packed");
      expect(journal).toContain("sleep");
      expect(await detail.locator(".invocation-id").textContent()).toBe(nap);

      await detail.locator("button[data-action=cancel]").click();
      const answer = detail.locator(".control-answer");
      await expect.poll(() => answer.textContent()).toMatch(/^cancel (accepted|failed)/);
      expect((await answer.textContent()) ?? "").toMatch(/^cancel accepted/);
      // Cooperative cancel: the sleep throws CancelledError and the invocation ends failed.
      expect(await eventually(async () => (await invocationOf("bob", "nap"))?.status === "failed", WAIT_MS)).toBe(true);
    });

    it("asks once for the admin token, keeps it for the tab and sends it as a bearer token", async () => {
      const token = "console-test-token";
      const guarded = await startHost({ services: [cart], dataDir: tempDir(), partitions: 2, admin: { port: 0, token }, logLevel: "silent" });
      const context = await browser.newContext();
      try {
        const tab = await context.newPage();
        tab.setDefaultTimeout(WAIT_MS);
        await tab.goto((guarded.adminUrl ?? "") + "/");
        await tab.waitForSelector("#token-form:not([hidden])");
        await expect.poll(() => tab.locator("#services .error").textContent()).toContain("answered 401");
        expect(await tab.locator("#invocations .content").textContent()).toBe("");
        await tab.fill("#token", "wrong");
        await tab.click("#token-form button[type=submit]");
        await expect.poll(() => tab.textContent("#token-message")).toContain("refused that token");
        await tab.fill("#token", token);
        await tab.click("#token-form button[type=submit]");
        await expect.poll(() => tab.locator("#services .content").textContent()).toContain("add · exclusive");
        expect(await tab.isHidden("#token-form")).toBe(true);
        await tab.reload();
        await tab.waitForSelector("body[data-refreshes='1']");
        expect(await tab.locator("#services .content").textContent()).toContain("add · exclusive");
        expect(await tab.isHidden("#token-form")).toBe(true);
      } finally {
        await context.close();
        await guarded.close();
      }
    });

    it("saves a full-page screenshot and raised no page error", async () => {
      // The picture for the README: a key with state, the sleeping invocation's journal, the page from its top.
      await page.fill("#state-form input[name=object]", "Cart");
      await page.fill("#state-form input[name=key]", "alice");
      await page.click("#state-form button[type=submit]");
      await page.click("#refresh");
      await page.waitForSelector("body[data-refreshes='2']");
      expect(await page.locator("#state .content").textContent()).toContain("Cart / alice");
      await page.evaluate("scrollTo(0, 0)");
      mkdirSync(dirname(testOutputShot), { recursive: true });
      await page.screenshot({ path: testOutputShot, fullPage: true });
      // docs/console.png is committed; rewrite it on request, not on every run.
      if (process.env.UPDATE_CONSOLE_SCREENSHOT === "1" || !existsSync(docsShot)) await page.screenshot({ path: docsShot, fullPage: true });
      expect(existsSync(testOutputShot)).toBe(true);
      expect(pageErrors).toEqual([]);
    });
  },
);
