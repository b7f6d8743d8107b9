/**
 * The console's page and stylesheet. The page is a fixed skeleton: every value the admin API returns is put
 * in by the script (`script.ts`) as text, never as markup.
 */

export const consolePage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cairn console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/app.css">
<script src="/console/app.js" defer></script>
</head>
<body>
<header>
  <h1>Cairn console</h1>
  <span id="health" class="muted" data-testid="health">connecting…</span>
  <nav>
    <a href="#services">Services</a>
    <a href="#state">Objects</a>
    <a href="#invocations">Invocations</a>
    <a href="#timers">Timers</a>
    <a href="#partitions">Partitions and hosts</a>
  </nav>
  <button id="refresh" type="button">Refresh</button>
</header>

<form id="token-form" hidden>
  <p id="token-message">This admin endpoint needs its token.</p>
  <label>Admin token <input id="token" type="password" autocomplete="off" required></label>
  <button type="submit">Use token</button>
</form>

<main>
<section id="services">
  <h2>Services</h2>
  <p class="error" role="alert" hidden></p>
  <div class="content"></div>
</section>

<section id="state">
  <h2>Objects and keys</h2>
  <form id="state-form" class="filters">
    <label>Type <input name="object" list="object-names" required autocomplete="off"></label>
    <label>Key <input name="key" required autocomplete="off"></label>
    <button type="submit">Look up</button>
  </form>
  <datalist id="object-names"></datalist>
  <p class="error" role="alert" hidden></p>
  <div class="content"></div>
</section>

<section id="invocations">
  <h2>Invocations</h2>
  <form id="invocations-form" class="filters">
    <label>Status <select name="status">
      <option value="">any</option>
      <option>queued</option><option>running</option><option>suspended</option><option>backing-off</option>
      <option>paused</option><option>failed</option><option>succeeded</option>
    </select></label>
    <label>Type <input name="object" list="all-names" autocomplete="off"></label>
    <label>Key <input name="key" autocomplete="off"></label>
    <label>Limit <input name="limit" type="number" min="1" max="1000" value="100"></label>
    <button type="submit">Filter</button>
  </form>
  <datalist id="all-names"></datalist>
  <p class="error" role="alert" hidden></p>
  <div class="content"></div>
</section>

<section id="invocation" hidden>
  <h2>Invocation <code class="invocation-id"></code></h2>
  <div class="controls">
    <button type="button" data-action="cancel">Cancel</button>
    <button type="button" data-action="kill" class="danger">Kill</button>
    <button type="button" data-action="resume">Resume</button>
    <span class="control-answer" role="status" data-testid="control-answer"></span>
  </div>
  <p class="error" role="alert" hidden></p>
  <div class="content"></div>
</section>

<section id="timers">
  <h2>Timers</h2>
  <form id="timers-form" class="filters">
    <label>Type <input name="object" list="object-names" autocomplete="off"></label>
    <label>Key <input name="key" autocomplete="off"></label>
    <button type="submit">Filter</button>
  </form>
  <p class="error" role="alert" hidden></p>
  <div class="content"></div>
</section>

<section id="partitions">
  <h2>Partitions and hosts</h2>
  <p class="error" role="alert" hidden></p>
  <div class="content"></div>
</section>
</main>
</body>
</html>
`;

export const consoleStyles = `:root {
  --fg: #1d2330; --muted: #5f6b7a; --line: #d8dee6; --stripe: #f5f7fa; --accent: #2456b3;
  --bad: #b3261e; --bad-bg: #fdecea; --warn-bg: #fff4d6; --ok-bg: #e6f4ea; --info-bg: #e8f0fe;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  font-size: 14px; color: var(--fg); background: #fff;
}
body { margin: 0; }
[hidden] { display: none !important; }
header {
  display: flex; flex-wrap: wrap; align-items: center; gap: 8px 20px; padding: 10px 24px;
  border-bottom: 1px solid var(--line); background: #fafbfc; position: sticky; top: 0; z-index: 1;
}
header h1 { font-size: 18px; margin: 0; }
nav { display: flex; gap: 14px; flex: 1; }
nav a { color: var(--accent); text-decoration: none; white-space: nowrap; }
nav a:hover { text-decoration: underline; }
main { padding: 0 24px 40px; max-width: 1400px; }
section { margin-top: 28px; }
section h2 { font-size: 16px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 6px; }
.muted { color: var(--muted); }
.error { color: var(--bad); background: var(--bad-bg); border: 1px solid #f3c2bd; padding: 6px 10px; border-radius: 4px; }
.filters, #token-form { display: flex; flex-wrap: wrap; align-items: end; gap: 10px; margin-bottom: 10px; }
#token-form { margin: 16px 24px 0; padding: 10px 14px; background: var(--warn-bg); border-radius: 4px; }
#token-form p { margin: 0; flex-basis: 100%; }
label { display: flex; flex-direction: column; gap: 2px; font-size: 12px; color: var(--muted); }
input, select { font: inherit; padding: 4px 6px; border: 1px solid var(--line); border-radius: 4px; min-width: 9em; }
input[type=number] { min-width: 5em; width: 6em; }
button {
  font: inherit; padding: 4px 12px; border: 1px solid #b9c3d0; border-radius: 4px; background: #fff; cursor: pointer;
}
button:hover { background: var(--stripe); }
button.danger { color: var(--bad); border-color: #e6a9a4; }
button.link { border: 0; padding: 0; background: none; color: var(--accent); cursor: pointer; text-align: left; }
button.link:hover { text-decoration: underline; background: none; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: #fafbfc; }
tbody tr:nth-child(even) { background: var(--stripe); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; width: 1%; white-space: nowrap; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; max-height: 16em; overflow: auto; }
.badge { display: inline-block; white-space: nowrap; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: var(--stripe); border: 1px solid var(--line); }
.badge.running, .badge.queued { background: var(--info-bg); }
.badge.suspended { background: #efe9fb; }
.badge.backing-off, .badge.paused { background: var(--warn-bg); }
.badge.failed { background: var(--bad-bg); color: var(--bad); }
.badge.succeeded { background: var(--ok-bg); }
.target { white-space: nowrap; }
.chips { display: flex; flex-wrap: wrap; gap: 4px; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 8px; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; }
.controls { display: flex; align-items: center; gap: 8px; margin-bottom: 10px; }
.control-answer.ok { color: #1e6b34; }
.control-answer.failed { color: var(--bad); }
.pager { display: flex; gap: 8px; align-items: center; }
`;
