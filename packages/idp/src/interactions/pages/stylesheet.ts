/** The one stylesheet of the server-rendered pages, served from /assets/palisade.css (CSP style-src 'self'). */
export const STYLESHEET = `
:root { --ink: #1b2430; --muted: #5b6675; --line: #d7dde5; --accent: #1f5fbf; --accent-ink: #fff; --bg: #f3f5f8; --danger: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
.topbar { display: flex; justify-content: space-between; align-items: center; padding: 14px 28px; background: #0f1b2d; color: #e8eef7; }
.brand { font-weight: 700; letter-spacing: .04em; }
.realm { color: #a9b7cc; font-size: 13px; }
.card { max-width: 440px; margin: 48px auto 16px; background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 32px; box-shadow: 0 2px 10px rgba(15, 27, 45, .06); }
h1 { font-size: 21px; margin: 0 0 6px; }
.lead { color: var(--muted); margin: 0 0 22px; }
.client { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; margin: 0 0 20px; background: #fafbfc; }
.client strong { display: block; }
.client code, code { font-size: 13px; color: var(--muted); }
label { display: block; font-weight: 600; margin: 14px 0 6px; }
input[type=text], input[type=password] { width: 100%; padding: 10px 12px; border: 1px solid #b9c2cf; border-radius: 6px; font: inherit; }
input:focus, button:focus { outline: 3px solid #9dbcf0; outline-offset: 1px; }
.actions { display: flex; gap: 12px; margin-top: 24px; }
button { flex: 1; padding: 11px 14px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-ink); font: inherit; font-weight: 600; cursor: pointer; }
button.secondary { background: #fff; color: var(--ink); border-color: #b9c2cf; }
.error { border-left: 4px solid var(--danger); background: #fdf1f0; padding: 10px 14px; border-radius: 4px; margin-bottom: 16px; }
ul.scopes { list-style: none; padding: 0; margin: 0; }
ul.scopes li { padding: 10px 0; border-bottom: 1px solid var(--line); }
ul.scopes li:last-child { border-bottom: 0; }
.scope-name { font-size: 12px; color: var(--muted); font-family: ui-monospace, monospace; }
.detail strong { display: block; margin-bottom: 6px; }
h2 { font-size: 15px; margin: 18px 0 4px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; font-size: 13px; }
dt { color: var(--muted); font-family: ui-monospace, monospace; }
dd { margin: 0; font-family: ui-monospace, monospace; word-break: break-all; }
ul.requests { list-style: none; padding: 0; margin: 0 0 16px; }
li.request { border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: 8px; padding: 14px 16px; margin: 0 0 14px; }
li.request .headline { font-weight: 600; margin: 0 0 8px; }
li.request .binding { margin: 0 0 8px; }
li.request form .actions { margin-top: 10px; }
.notice { border-left: 4px solid var(--accent); background: #eef4fd; padding: 10px 14px; border-radius: 4px; margin-bottom: 16px; }
@media (max-width: 480px) {
  .card { margin: 12px; padding: 20px; }
  li.request dl { grid-template-columns: 1fr; }
  li.request dd { margin-bottom: 6px; }
}
.card:has(table.timeline) { max-width: 1100px; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-end; margin-bottom: 18px; }
form.filters label { margin: 0; font-size: 13px; }
form.filters input, form.filters select { display: block; margin-top: 4px; padding: 6px 8px; border: 1px solid #b9c2cf; border-radius: 6px; font: inherit; font-size: 13px; }
form.filters .actions { margin: 0; }
section.trace { border-top: 1px solid var(--line); padding-top: 12px; margin-top: 18px; }
section.trace h2 code { font-size: 13px; }
h3 { font-size: 14px; margin: 10px 0 4px; }
ul.tree { list-style: none; margin: 0; padding-left: 18px; font-family: ui-monospace, monospace; font-size: 13px; }
ul.tree > li { position: relative; }
ul.tree > li::before { content: "└ "; color: var(--muted); }
table.timeline { width: 100%; border-collapse: collapse; font-size: 12px; margin-top: 10px; }
table.timeline th, table.timeline td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.timeline td { font-family: ui-monospace, monospace; word-break: break-word; }
table.timeline tr.failure td { background: #fdf1f0; }
.foot { text-align: center; color: var(--muted); font-size: 12px; margin: 8px auto 40px; max-width: 440px; }
`;
