// Request handling for the invite function, independent of where previews come from, so the unit
// tests can drive it with an in-memory source and a fake clock.
//
//   GET  /invite/<CODE>          HTML page (or JSON with Accept: application/json or ?format=json)
//   GET  /invite?code=<CODE>     same
//   GET  /invite                 the join-code entry page (HTML; JSON callers get 400 as before)
//   GET  /invite/static/<file>   the web client's scripts (only with a WebClient configured)
//   HEAD                         same headers, no body
//   POST /invite {"code": "..."} JSON (what supabase-js / supabase-py functions.invoke send by default)
//
// Statuses: 200 live session (canJoin may be false), 400 malformed code, 404 unknown code,
// 410 ended or cancelled, 429 rate limited, 503 lookup failed, 405 other methods.

import { type AssetStore, CLIENT_SCRIPTS } from "./assets.ts";
import { type ClientPage, deepLink, renderJoinPage, renderMessagePage, renderPreviewPage } from "./page.ts";
import {
  CODE_PATTERN,
  type InvitePreview,
  isEnded,
  type PreviewSource,
  TooManyFailedLookups,
} from "./preview.ts";
import { clientAddress, networkKey, RateLimiter } from "./rate_limit.ts";

export interface InviteHandlerOptions {
  source: PreviewSource;
  limiter: RateLimiter;
  /** How many proxies in front of the function append to X-Forwarded-For (see rate_limit.ts). */
  trustedProxyHops?: number;
  /** Public URL prefix of the function (e.g. https://seer.example/invite), used for og:url. */
  publicBaseUrl?: string;
  /** The player's web client; without it the page is the script-free preview with the app link. */
  client?: WebClient;
  /** A fresh CSP nonce per page (tests pass a fixed one). */
  nonce?: () => string;
  log?: (message: string) => void;
}

export interface WebClient {
  /** The Supabase API URL as the browser reaches it (the page's own origin on a deployment). */
  apiUrl: string;
  /** The project's public anon key (supabase-js needs it; it is public by design). */
  anonKey: string;
  assets: AssetStore;
}

export type ServeInfo = { remoteAddr?: { hostname?: string } };
export type InviteHandler = (req: Request, info?: ServeInfo) => Promise<Response>;

interface ErrorSpec {
  status: number;
  code: string;
  message: string;
  heading: string;
  page: string;
}

// The codes and messages are the PRD's (docs/contract.md); INVITE_* are this function's own.
const ERRORS = {
  malformed: {
    status: 400,
    code: "SESSION_002",
    message: "Invalid session code format",
    heading: "That code doesn't look right",
    page: "Join codes are 6 letters and digits, like H7NK4B. Check the link you were sent.",
  },
  notFound: {
    status: 404,
    code: "SESSION_001",
    message: "Session not found",
    heading: "Session not found",
    page: "No session has this code. Ask your Seer for a new link.",
  },
  ended: {
    status: 410,
    code: "SESSION_005",
    message: "Session is not in waiting state",
    heading: "This session has ended",
    page: "The adventure behind this link is over. Ask your Seer for a new link.",
  },
  rateLimited: {
    status: 429,
    code: "INVITE_RATE_LIMITED",
    message: "Too many invite lookups; try again later",
    heading: "Slow down a little",
    page: "Too many invite links were opened from your address. Try again in a minute.",
  },
  unavailable: {
    status: 503,
    code: "INVITE_UNAVAILABLE",
    message: "Invite lookup is unavailable; try again later",
    heading: "Seer is not reachable",
    page: "The invite could not be looked up right now. Try again in a minute.",
  },
  method: {
    status: 405,
    code: "INVITE_METHOD_NOT_ALLOWED",
    message: "Use GET, HEAD or POST",
    heading: "Not supported",
    page: "Open this link in a browser.",
  },
} satisfies Record<string, ErrorSpec>;

const CORS_HEADERS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, x-client-info, apikey, content-type, accept",
  "access-control-allow-methods": "GET, HEAD, POST, OPTIONS",
};

// Pages without the client have no script at all; the policy makes sure none could ever run.
const HTML_HEADERS: Record<string, string> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

// The join page: still no script; its one form may submit to this function.
const JOIN_PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The policy of a page that loads the web client: only the scripts and the style element carrying
 * this response's nonce run (no inline script, no eval, no other origin), and the page may talk to
 * the API (REST, Auth, and Realtime's websocket) and nothing else.
 */
export function clientCsp(nonce: string, apiUrl: string): string {
  const api = new URL(apiUrl);
  const ws = `${api.protocol === "https:" ? "wss:" : "ws:"}//${api.host}`;
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    `connect-src ${api.origin} ${ws}`,
    "img-src data:",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes));
}

/** The path segments after the function's name ("invite"). */
function restSegments(url: URL): string[] {
  const segments = url.pathname.split("/").filter((s) => s.length > 0);
  const at = segments.lastIndexOf("invite");
  return at >= 0 ? segments.slice(at + 1) : segments;
}

/**
 * The function's root (the join page) relative to the page at `url`, so links and script URLs work
 * whatever prefix the function is served under (/functions/v1/invite, a custom domain's /invite).
 */
export function rootHref(url: URL): string {
  const path = url.pathname;
  if (!path.endsWith("/")) {
    const rest = restSegments(url);
    if (rest.length === 0) return "invite/"; // the page is the root itself, without a slash
    return "../".repeat(rest.length - 1) || "./";
  }
  return "../".repeat(restSegments(url).length) || "./";
}

/** Reads the code from the path (/invite/<CODE>), else from ?code=. Returns null when absent. */
export function codeFromUrl(url: URL): { code: string | null; extraPath: boolean } {
  const rest = restSegments(url);
  if (rest.length > 1) return { code: rest.join("/"), extraPath: true };
  if (rest.length === 1) {
    try {
      return { code: decodeURIComponent(rest[0]), extraPath: false };
    } catch {
      return { code: rest[0], extraPath: true };
    }
  }
  return { code: url.searchParams.get("code"), extraPath: false };
}

export function normalizeCode(raw: string | null): string | null {
  if (raw === null) return null;
  const code = raw.trim().toUpperCase();
  return CODE_PATTERN.test(code) ? code : null;
}

function wantsJson(req: Request, url: URL): boolean {
  if (req.method === "POST") return true;
  const format = url.searchParams.get("format");
  if (format === "json") return true;
  if (format === "html") return false;
  const accept = (req.headers.get("accept") ?? "").toLowerCase();
  if (!accept.includes("application/json")) return false;
  // A browser asking for HTML first gets HTML even if it also lists JSON.
  const html = accept.indexOf("text/html");
  return html < 0 || accept.indexOf("application/json") < html;
}

/** The JSON body for a live session: the preview plus the app deep link. */
export function previewJson(p: InvitePreview): Record<string, unknown> {
  return { ...p, joinDeepLink: deepLink(p.code) };
}

export function createInviteHandler(options: InviteHandlerOptions): InviteHandler {
  const hops = options.trustedProxyHops ?? 1;
  const log = options.log ?? ((m: string) => console.error(m));
  const nonce = options.nonce ?? randomNonce;
  const client = options.client;
  if (client) {
    for (const name of CLIENT_SCRIPTS) {
      if (!client.assets.has(name)) throw new Error(`invite: the web client's ${name} is missing`);
    }
  }

  const clientPage = (url: URL): ClientPage | undefined => {
    if (!client) return undefined;
    const root = rootHref(url);
    return {
      nonce: nonce(),
      apiUrl: client.apiUrl,
      anonKey: client.anonKey,
      joinHref: root,
      scripts: CLIENT_SCRIPTS.map((name) => {
        const asset = client.assets.get(name)!;
        return { src: `${root}static/${name}?v=${asset.version}`, integrity: asset.integrity };
      }),
    };
  };

  const asset = (req: Request, name: string): Response => {
    const file = client?.assets.get(name);
    if (!file || !["GET", "HEAD"].includes(req.method)) {
      return new Response("not found\n", {
        status: 404,
        headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" },
      });
    }
    return new Response(req.method === "HEAD" ? null : file.body as Uint8Array<ArrayBuffer>, {
      status: 200,
      headers: {
        "content-type": file.contentType,
        "x-content-type-options": "nosniff",
        "cache-control": "public, max-age=3600",
        etag: `"${file.version}"`,
      },
    });
  };

  const joinPage = (req: Request, url: URL, status: number, error?: Parameters<typeof renderJoinPage>[1]) => {
    const headers = new Headers({
      ...CORS_HEADERS,
      ...HTML_HEADERS,
      "content-security-policy": JOIN_PAGE_CSP,
      "cache-control": "no-store",
      vary: "Accept",
    });
    return new Response(req.method === "HEAD" ? null : renderJoinPage(rootHref(url), error), {
      status,
      headers,
    });
  };

  const respond = (
    req: Request,
    json: boolean,
    status: number,
    body: string,
    extra: Record<string, string>,
  ) => {
    const headers = new Headers({
      ...CORS_HEADERS,
      ...(json ? { "content-type": "application/json; charset=utf-8" } : HTML_HEADERS),
      "cache-control": "no-store",
      vary: "Accept",
      ...extra,
    });
    return new Response(req.method === "HEAD" ? null : body, { status, headers });
  };

  const error = (
    req: Request,
    json: boolean,
    spec: ErrorSpec,
    code?: string,
    extra: Record<string, string> = {},
  ) => {
    const body = json
      ? JSON.stringify({ error: spec.message, code: spec.code, message: spec.message, details: code ?? null })
      : renderMessagePage(spec.heading, spec.page, code, client ? rootHref(new URL(req.url)) : undefined);
    return respond(req, json, spec.status, body, extra);
  };

  return async (req: Request, info?: ServeInfo): Promise<Response> => {
    const url = new URL(req.url);
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS_HEADERS });
    const json = wantsJson(req, url);
    if (!["GET", "HEAD", "POST"].includes(req.method)) {
      return error(req, json, ERRORS.method, undefined, { allow: "GET, HEAD, POST, OPTIONS" });
    }

    const rest = restSegments(url);
    if (rest.length === 2 && rest[0] === "static") return asset(req, rest[1]);

    let raw: string | null;
    let extraPath: boolean;
    ({ code: raw, extraPath } = codeFromUrl(url));
    if (raw === null && req.method === "POST") {
      try {
        const body = await req.json();
        raw = body && typeof body === "object" && typeof body.code === "string" ? body.code : null;
      } catch {
        raw = null;
      }
    }
    const code = extraPath ? null : normalizeCode(raw);
    if (code === null && !json) {
      // A person: the join page, with what went wrong when they typed something.
      if (!extraPath && (raw === null || raw.trim() === "")) return joinPage(req, url, 200);
      return joinPage(req, url, ERRORS.malformed.status, {
        heading: ERRORS.malformed.heading,
        message: ERRORS.malformed.page,
        typed: raw,
      });
    }
    if (code === null) return error(req, json, ERRORS.malformed);

    // Only well-formed codes cost a lookup, so only they count against the limit.
    // Limited per network: an IPv6 /64 is one client, like one IPv4 address.
    const client = networkKey(clientAddress(req, info?.remoteAddr?.hostname, hops));
    const decision = options.limiter.take(client);
    if (!decision.allowed) {
      return error(req, json, ERRORS.rateLimited, undefined, {
        "retry-after": String(decision.retryAfterSeconds),
        "ratelimit-limit": String(options.limiter.max),
        "ratelimit-remaining": "0",
      });
    }
    const rateHeaders = {
      "ratelimit-limit": String(options.limiter.max),
      "ratelimit-remaining": String(decision.remaining),
    };

    let preview: InvitePreview | null;
    try {
      preview = await options.source(code, client);
    } catch (e) {
      if (e instanceof TooManyFailedLookups) {
        // the shared unknown-code budget (10 per 10 minutes, docs/invite.md)
        return error(req, json, ERRORS.rateLimited, undefined, { "retry-after": "600" });
      }
      log(`invite: lookup failed: ${e instanceof Error ? e.message : String(e)}`);
      return error(req, json, ERRORS.unavailable, undefined, { "retry-after": "5" });
    }
    if (preview === null) return error(req, json, ERRORS.notFound, code, rateHeaders);
    if (isEnded(preview.status)) return error(req, json, ERRORS.ended, code, rateHeaders);

    const pageUrl = options.publicBaseUrl
      ? `${options.publicBaseUrl.replace(/\/+$/, "")}/${encodeURIComponent(code)}`
      : undefined;
    if (json) return respond(req, json, 200, JSON.stringify(previewJson(preview)), rateHeaders);
    const page = clientPage(url);
    const csp: Record<string, string> = page
      ? { "content-security-policy": clientCsp(page.nonce, page.apiUrl) }
      : {};
    return respond(req, json, 200, renderPreviewPage(preview, pageUrl, page), { ...rateHeaders, ...csp });
  };
}
