// Server-rendered HTML for the invite link: one small page, no framework, no script, readable on a
// phone, with OpenGraph/Twitter tags so chat apps show a preview card. Every piece of text that came
// from a user (titles, descriptions, names) goes through escapeHtml.

import type { InvitePreview, InviteStatus } from "./preview.ts";

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML element content and for quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]);
}

/** Shortens to at most `max` characters (code points, so no split surrogate pairs), adding an ellipsis. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text.replace(/\s+/g, " ").trim());
  return chars.length <= max ? chars.join("") : chars.slice(0, max - 1).join("").trimEnd() + "…";
}

export function deepLink(code: string): string {
  return `seer://join/${encodeURIComponent(code)}`;
}

const STATUS_LABELS: Record<InviteStatus, string> = {
  waiting: "Waiting for players",
  active: "In progress",
  paused: "Paused",
  completed: "Ended",
  cancelled: "Cancelled",
};

export function statusLabel(status: InviteStatus): string {
  return STATUS_LABELS[status];
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f4f1ea;--card:#fffdf8;--ink:#1d1b18;--muted:#6b655c;--accent:#5b3cc4;--line:#e3ddd2}
@media (prefers-color-scheme:dark){:root{--bg:#15131a;--card:#1f1c26;--ink:#f1eee8;--muted:#a69fb3;--accent:#a48cff;--line:#34303d}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:16px;
background:var(--bg);color:var(--ink);font:17px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{width:100%;max-width:440px;background:var(--card);border:1px solid var(--line);border-radius:18px;padding:24px}
.eyebrow{margin:0;color:var(--muted);font-size:13px;letter-spacing:.08em;text-transform:uppercase}
h1{margin:6px 0 8px;font-size:26px;line-height:1.2;overflow-wrap:anywhere}
.desc{margin:0 0 16px;color:var(--muted);overflow-wrap:anywhere;white-space:pre-line}
dl{display:grid;grid-template-columns:auto 1fr;gap:6px 14px;margin:0 0 18px}
dt{color:var(--muted)}dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.label{margin:0;color:var(--muted);font-size:13px;text-align:center;text-transform:uppercase;letter-spacing:.08em}
.code{margin:2px 0 18px;text-align:center;font:700 44px/1.1 ui-monospace,"DejaVu Sans Mono",monospace;letter-spacing:.16em}
.join{display:block;text-align:center;padding:14px;border-radius:12px;background:var(--accent);color:#fff;
font-weight:700;text-decoration:none;font-size:18px}
.notice{margin:0;padding:12px 14px;border-radius:12px;border:1px solid var(--line);text-align:center;font-weight:600}
.hint{margin:14px 0 0;color:var(--muted);font-size:14px;text-align:center}
`;

interface Meta {
  title: string;
  description: string;
  url?: string;
}

function head(meta: Meta): string {
  const t = escapeHtml(meta.title);
  const d = escapeHtml(meta.description);
  const url = meta.url ? escapeHtml(meta.url) : null;
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    '<meta name="robots" content="noindex">',
    `<title>${t}</title>`,
    `<meta name="description" content="${d}">`,
    '<meta property="og:type" content="website">',
    '<meta property="og:site_name" content="Seer">',
    `<meta property="og:title" content="${t}">`,
    `<meta property="og:description" content="${d}">`,
    url ? `<meta property="og:url" content="${url}">` : "",
    '<meta name="twitter:card" content="summary">',
    `<meta name="twitter:title" content="${t}">`,
    `<meta name="twitter:description" content="${d}">`,
    `<style>${STYLE}</style>`,
    "</head>",
  ].filter((line) => line !== "").join("\n");
}

function seatsText(p: InvitePreview): string {
  if (p.seatsLeft === null) return "unknown";
  const of = p.maxPlayers === null ? "" : ` of ${p.maxPlayers}`;
  return `${p.seatsLeft}${of}`;
}

/** The full page for a live session (200), whether or not it can be joined. */
export function renderPreviewPage(p: InvitePreview, url?: string): string {
  const title = p.adventureTitle ?? "A Seer adventure";
  const seer = p.seerName ?? "A Seer";
  const seats = p.seatsLeft === null ? "" : ` ${p.seatsLeft === 1 ? "1 seat" : `${p.seatsLeft} seats`} left.`;
  const summary = p.canJoin
    ? `${seer} invites you to play${seats} Join code ${p.code}.`
    : `${seer} is running this adventure. ${p.reason ?? "It cannot be joined right now"}.`;
  const description = truncate(
    p.adventureDescription ? `${summary} ${p.adventureDescription}` : summary,
    200,
  );
  const code = escapeHtml(p.code);
  const action = p.canJoin
    ? `<a class="join" data-testid="join-link" href="${escapeHtml(deepLink(p.code))}">Open in Seer</a>\n` +
      `<p class="hint">No app link? Open Seer, tap Join and enter <strong>${code}</strong>.</p>`
    : `<p class="notice" data-testid="cannot-join">${
      escapeHtml(p.reason ?? "This session cannot be joined right now")
    }.</p>`;
  return `${head({ title: `Join “${truncate(title, 80)}” on Seer`, description, url })}
<body>
<main data-testid="session-preview">
<p class="eyebrow">Seer invite</p>
<h1 data-testid="adventure-title">${escapeHtml(title)}</h1>
${
    p.adventureDescription
      ? `<p class="desc" data-testid="adventure-description">${escapeHtml(p.adventureDescription)}</p>`
      : ""
  }
<dl>
<dt>Seer</dt><dd data-testid="seer-name">${escapeHtml(seer)}</dd>
<dt>Seats left</dt><dd data-testid="seats-left">${escapeHtml(seatsText(p))}</dd>
<dt>Status</dt><dd data-testid="session-status">${escapeHtml(statusLabel(p.status))}</dd>
</dl>
<p class="label">Join code</p>
<p class="code" data-testid="join-code">${code}</p>
${action}
</main>
</body>
</html>
`;
}

/** A page for everything that is not a live session: 400, 404, 410, 429, 503. */
export function renderMessagePage(heading: string, message: string, code?: string): string {
  const codeBlock = code
    ? `<p class="label">Join code</p>\n<p class="code" data-testid="join-code">${escapeHtml(code)}</p>\n`
    : "";
  return `${head({ title: `${heading} · Seer`, description: message })}
<body>
<main data-testid="invite-message">
<p class="eyebrow">Seer invite</p>
<h1>${escapeHtml(heading)}</h1>
<p class="desc">${escapeHtml(message)}</p>
${codeBlock}</main>
</body>
</html>
`;
}
