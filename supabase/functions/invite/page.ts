// Server-rendered HTML for the invite link: one small page, no framework, readable on a phone, with
// OpenGraph/Twitter tags so chat apps show a preview card. Every piece of text that came from a user
// (titles, descriptions, names) goes through escapeHtml.
//
// When the function knows its API (WebClient), the page also loads the player's web client
// (static/app.js): the preview stays server-rendered and works without script; the scripts are
// external files with a per-response nonce and Subresource Integrity, never inline code.

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
body{margin:0;min-height:100vh;display:flex;flex-direction:column;align-items:center;justify-content:center;gap:16px;
padding:16px;background:var(--bg);color:var(--ink);font:17px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main,.card{width:100%;max-width:440px;background:var(--card);border:1px solid var(--line);border-radius:18px;padding:24px}
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
.hint a{color:var(--accent)}
form{display:grid;gap:12px}
.code-input{font:700 32px/1.2 ui-monospace,"DejaVu Sans Mono",monospace;letter-spacing:.14em;text-align:center;
text-transform:uppercase;padding:10px;border:1px solid var(--line);border-radius:12px;background:var(--bg);color:var(--ink);width:100%}
button.join{border:0;cursor:pointer;width:100%}
.error{border-color:#c0392b;color:#c0392b}
.notice.error{margin-bottom:16px;text-align:left;font-weight:400}
`;

// The web client's look (elements app.js creates); only loaded with the client, under the nonce.
const APP_STYLE = `
body.in-session{justify-content:flex-start}
body.in-session .card{max-width:720px}
.card h2{margin:0 0 10px;font-size:20px}
.card h3{margin:16px 0 6px;font-size:15px;color:var(--muted);text-transform:uppercase;letter-spacing:.06em}
.field{display:grid;gap:4px;font-size:14px;color:var(--muted)}
.field input{font:inherit;padding:9px 10px;border:1px solid var(--line);border-radius:10px;background:var(--bg);color:var(--ink)}
.row{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin-top:12px}
.row input{flex:1;min-width:0;font:inherit;padding:9px 10px;border:1px solid var(--line);border-radius:10px;
background:var(--bg);color:var(--ink)}
.btn{font:inherit;font-weight:600;padding:9px 14px;border-radius:10px;border:1px solid var(--line);background:var(--bg);
color:var(--ink);cursor:pointer}
.btn.primary{background:var(--accent);border-color:var(--accent);color:#fff}
.btn:disabled{opacity:.5;cursor:default}
.btn[aria-pressed=true]{outline:3px solid var(--accent);outline-offset:1px}
.list{list-style:none;margin:0;padding:0;display:grid;gap:6px}
.list li{display:flex;justify-content:space-between;gap:10px;padding:8px 10px;border:1px solid var(--line);border-radius:10px;
overflow-wrap:anywhere}
.who{font-weight:600}.sub{color:var(--muted);font-size:14px}
.badge{font-size:12px;font-weight:700;padding:2px 8px;border-radius:999px;border:1px solid var(--line);white-space:nowrap;
align-self:center}
.badge.on{color:#1e8449;border-color:#1e8449}.badge.off{color:#b9770e;border-color:#b9770e}
.badge.gone{color:var(--muted)}
.bar{display:flex;justify-content:space-between;gap:8px;flex-wrap:wrap;align-items:center;margin-bottom:12px}
.status[data-state=connected]{color:#1e8449}.status[data-state=reconnecting],.status[data-state=connecting]{color:#b9770e}
.status[data-state=disconnected]{color:#c0392b}
.node{padding:14px;border:1px solid var(--line);border-radius:12px;background:var(--bg)}
.node h2{margin:0 0 6px}.node p{margin:0;white-space:pre-line;overflow-wrap:anywhere}
.choices{display:grid;gap:8px;margin-top:12px}
.log{max-height:220px;overflow:auto;font-size:14px}
.log li{display:block;padding:4px 8px}
.seq{color:var(--muted);font-variant-numeric:tabular-nums;margin-right:6px}
.msg{margin:8px 0 0;font-size:14px}
.msg.error{color:#c0392b}
.current{font-weight:700}
`;

interface Meta {
  title: string;
  description: string;
  url?: string;
}

/** What a page needs to load the web client: see handler.ts (clientPage). */
export interface ClientPage {
  /** The response's CSP nonce (also in the Content-Security-Policy header). */
  nonce: string;
  /** Where the browser's supabase-js talks to (the API URL) and with which public key. */
  apiUrl: string;
  anonKey: string;
  /** Script URLs relative to the page, with their Subresource Integrity values, in load order. */
  scripts: { src: string; integrity: string }[];
  /** The join page's URL relative to this page (the "enter another code" link). */
  joinHref: string;
}

function clientHead(client: ClientPage | undefined): string {
  if (!client) return "";
  const n = escapeHtml(client.nonce);
  return [
    `<meta name="seer-api-url" content="${escapeHtml(client.apiUrl)}">`,
    `<meta name="seer-anon-key" content="${escapeHtml(client.anonKey)}">`,
    `<meta name="seer-join-href" content="${escapeHtml(client.joinHref)}">`,
    ...client.scripts.map((s) =>
      `<script defer nonce="${n}" src="${escapeHtml(s.src)}" integrity="${
        escapeHtml(s.integrity)
      }" crossorigin="anonymous"></script>`
    ),
  ].join("\n");
}

function head(meta: Meta, client?: ClientPage): string {
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
    clientHead(client),
    client
      ? `<style nonce="${escapeHtml(client.nonce)}">${STYLE}${APP_STYLE}</style>`
      : `<style>${STYLE}</style>`,
    "</head>",
  ].filter((line) => line !== "").join("\n");
}

function seatsText(p: InvitePreview): string {
  if (p.seatsLeft === null) return "unknown";
  const of = p.maxPlayers === null ? "" : ` of ${p.maxPlayers}`;
  return `${p.seatsLeft}${of}`;
}

/** The full page for a live session (200), whether or not it can be joined. */
export function renderPreviewPage(p: InvitePreview, url?: string, client?: ClientPage): string {
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
  const deep = escapeHtml(deepLink(p.code));
  // With the web client the browser is the main way in (the app renders sign-in and the
  // character picker into #seer-app); the app deep link stays for people who have the app.
  const action = p.canJoin
    ? client
      ? `<p class="hint" data-testid="app-hint">Have the Seer app? <a data-testid="join-link" href="${deep}">Open in Seer</a></p>`
      : `<a class="join" data-testid="join-link" href="${deep}">Open in Seer</a>\n` +
        `<p class="hint">No app link? Open Seer, tap Join and enter <strong>${code}</strong>.</p>`
    : `<p class="notice" data-testid="cannot-join">${
      escapeHtml(p.reason ?? "This session cannot be joined right now")
    }.</p>`;
  return `${head({ title: `Join “${truncate(title, 80)}” on Seer`, description, url }, client)}
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
${client ? appMount(p.code, p.canJoin) : ""}</body>
</html>
`;
}

/** Where app.js renders; its noscript text says what works without script. */
function appMount(code: string, canJoin: boolean): string {
  return `<section id="seer-app" class="card" data-code="${
    escapeHtml(code)
  }" data-can-join="${canJoin}" aria-live="polite">
<noscript><p class="hint">Playing in the browser needs JavaScript. With the Seer app, use the link above.</p></noscript>
</section>
`;
}

/** A page for everything that is not a live session: 404, 410, 429, 503. */
export function renderMessagePage(
  heading: string,
  message: string,
  code?: string,
  joinHref?: string,
): string {
  const codeBlock = code
    ? `<p class="label">Join code</p>\n<p class="code" data-testid="join-code">${escapeHtml(code)}</p>\n`
    : "";
  const again = joinHref
    ? `<p class="hint"><a data-testid="enter-code-link" href="${
      escapeHtml(joinHref)
    }">Enter another code</a></p>\n`
    : "";
  return `${head({ title: `${heading} · Seer`, description: message })}
<body>
<main data-testid="invite-message">
<p class="eyebrow">Seer invite</p>
<h1>${escapeHtml(heading)}</h1>
<p class="desc">${escapeHtml(message)}</p>
${codeBlock}${again}</main>
</body>
</html>
`;
}

export interface JoinPageError {
  heading: string;
  message: string;
  /** What the person typed, shown back in the field. */
  typed: string | null;
}

/**
 * The join-code entry page (the PRD's /join): a plain GET form to the function's root, so it works
 * without script; the code is checked and rate limited by the same handler as a link's code.
 */
export function renderJoinPage(action: string, error?: JoinPageError): string {
  const notice = error
    ? `<p class="notice error" data-testid="join-error" role="alert"><strong>${
      escapeHtml(error.heading)
    }.</strong> ${escapeHtml(error.message)}</p>\n`
    : "";
  const value = error?.typed ? ` value="${escapeHtml(truncate(error.typed, 40))}"` : "";
  return `${head({ title: "Join a session · Seer", description: "Enter the join code your Seer gave you." })}
<body>
<main data-testid="join-page">
<p class="eyebrow">Seer</p>
<h1>Join a session</h1>
<p class="desc">Enter the 6-character code your Seer gave you, like H7NK4B.</p>
${notice}<form method="get" action="${escapeHtml(action)}" data-testid="join-form">
<label class="label" for="join-code">Join code</label>
<input id="join-code" class="code-input" name="code" data-testid="join-code-input" required maxlength="40"
 autocomplete="off" autocapitalize="characters" spellcheck="false" inputmode="text"${value}>
<button class="join" type="submit" data-testid="find-session">Find session</button>
</form>
</main>
</body>
</html>
`;
}
