// Unit tests for the invite function: run with `deno test --allow-env --allow-net=127.0.0.1` in this
// directory (tests/functions/test_deno_unit.py runs them inside `make test`). Previews come from an
// in-memory source, so no server is needed.

import assert from "node:assert/strict";
import { CLIENT_SCRIPTS, loadAssets, makeAsset } from "./assets.ts";
import { codeFromUrl, createInviteHandler, type InviteHandler, normalizeCode, rootHref } from "./handler.ts";
import { escapeHtml, renderPreviewPage, truncate } from "./page.ts";
import { type InvitePreview, parsePreview, TooManyFailedLookups } from "./preview.ts";
import { clientAddress, networkKey, RateLimiter } from "./rate_limit.ts";

const BASE = "http://fn.local/invite";
const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

function preview(overrides: Partial<InvitePreview> = {}): InvitePreview {
  return {
    code: "H7NK4B",
    status: "waiting",
    adventureTitle: "The Sunken Library",
    adventureDescription: "Dive into drowned stacks.",
    seerName: "Morgana",
    seatsLeft: 4,
    maxPlayers: 6,
    canJoin: true,
    reason: null,
    reasonCode: null,
    ...overrides,
  };
}

const SESSIONS: Record<string, InvitePreview> = {
  H7NK4B: preview(),
  FUXX22: preview({
    code: "FUXX22",
    seatsLeft: 0,
    canJoin: false,
    reason: "Session is full",
    reasonCode: "SESSION_003",
  }),
  STRT33: preview({
    code: "STRT33",
    status: "active",
    canJoin: false,
    reason: "Session has already started",
    reasonCode: "SESSION_004",
  }),
  PAWS44: preview({
    code: "PAWS44",
    status: "paused",
    canJoin: false,
    reason: "Session has already started",
  }),
  DNNE55: preview({ code: "DNNE55", status: "completed", canJoin: false }),
  CNCD66: preview({ code: "CNCD66", status: "cancelled", canJoin: false }),
  XSSXSS: preview({
    code: "XSSXSS",
    adventureTitle: `<script>alert("t")</script>`,
    adventureDescription: `</p><img src=x onerror=alert(1)> & 'quotes'`,
    seerName: `"><script>alert('s')</script>`,
  }),
};

interface Harness {
  handler: InviteHandler;
  lookups: string[];
  clock: { now: number };
  logs: string[];
}

function harness(
  opts: { max?: number; source?: (code: string, network: string) => Promise<InvitePreview | null> } = {},
): Harness {
  const lookups: string[] = [];
  const logs: string[] = [];
  const clock = { now: 1_000_000 };
  const handler = createInviteHandler({
    source: opts.source ??
      ((code) => {
        lookups.push(code);
        return Promise.resolve(SESSIONS[code] ?? null);
      }),
    limiter: new RateLimiter({ max: opts.max ?? 1000, windowMs: 60_000, now: () => clock.now }),
    log: (m) => logs.push(m),
  });
  return { handler, lookups, clock, logs };
}

function get(h: Harness, path: string, headers: Record<string, string> = {}, ip = "203.0.113.7") {
  return h.handler(new Request(`${BASE}${path}`, { headers }), { remoteAddr: { hostname: ip } });
}

const asJson = { accept: "application/json" };

// --- escaping ---------------------------------------------------------------------------------

Deno.test("escapeHtml escapes the five HTML-significant characters", () => {
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&</a>`),
    "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
  );
  assert.equal(escapeHtml("plain text"), "plain text");
});

Deno.test("user text renders as text: no tag or attribute from a title, description or name survives", async () => {
  const res = await get(harness(), "/XSSXSS", { accept: BROWSER_ACCEPT });
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.ok(!html.includes("<script"), "a <script> tag leaked");
  assert.ok(!html.includes("<img"), "an <img> tag leaked");
  assert.ok(!/content="[^"]*"><script/.test(html), "an attribute was broken out of");
  assert.ok(html.includes("&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;"));
  assert.ok(html.includes("&lt;/p&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#39;quotes&#39;"));
  assert.ok(html.includes("&quot;&gt;&lt;script&gt;alert(&#39;s&#39;)&lt;/script&gt;"));
  // Every meta content attribute is a single well-formed quoted value.
  for (const m of html.matchAll(/<meta [^>]*>/g)) assert.match(m[0], /^<meta( [a-z:-]+="[^"<>]*")+>$/);
  assert.equal(res.headers.get("content-security-policy")?.includes("default-src 'none'"), true);
});

Deno.test("truncate keeps whole code points and marks the cut", () => {
  assert.equal(truncate("short", 10), "short");
  assert.equal(truncate("a  b\n c", 10), "a b c");
  const t = truncate("🐉".repeat(50), 10);
  assert.equal(Array.from(t).length, 10);
  assert.ok(t.endsWith("…"));
  assert.ok(!t.includes("\uFFFD"));
});

// --- the page ---------------------------------------------------------------------------------

Deno.test("HTML page shows title, description, Seer, seats, status, big code, deep link and preview meta", async () => {
  const res = await get(harness(), "/H7NK4B", { accept: BROWSER_ACCEPT });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const html = await res.text();
  assert.match(html, /<h1 data-testid="adventure-title">The Sunken Library<\/h1>/);
  assert.match(html, /Dive into drowned stacks\./);
  assert.match(html, /data-testid="seer-name">Morgana</);
  assert.match(html, /data-testid="seats-left">4 of 6</);
  assert.match(html, /data-testid="session-status">Waiting for players</);
  assert.match(html, /data-testid="join-code">H7NK4B</);
  assert.match(html, /href="seer:\/\/join\/H7NK4B"/);
  assert.match(html, /<meta property="og:title" content="Join “The Sunken Library” on Seer">/);
  assert.match(
    html,
    /<meta property="og:description" content="Morgana invites you to play 4 seats left\. Join code H7NK4B\./,
  );
  assert.match(html, /<meta name="twitter:card" content="summary">/);
  assert.match(html, /<meta name="viewport" content="width=device-width,initial-scale=1">/);
  assert.ok(!html.includes("<script"), "the page needs no script");
});

Deno.test("og:url is set from the public base URL when configured", async () => {
  const handler = createInviteHandler({
    source: (c) => Promise.resolve(SESSIONS[c] ?? null),
    limiter: new RateLimiter({ max: 5, windowMs: 1000 }),
    publicBaseUrl: "https://play.seer.example/i/",
  });
  const html = await (await handler(new Request(`${BASE}/H7NK4B`))).text();
  assert.match(html, /<meta property="og:url" content="https:\/\/play\.seer\.example\/i\/H7NK4B">/);
});

Deno.test("a full session is 200 with canJoin false and says why, with no join button", async () => {
  const res = await get(harness(), "/FUXX22");
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /data-testid="cannot-join">Session is full\.</);
  assert.match(html, /data-testid="seats-left">0 of 6</);
  assert.ok(!html.includes("seer://join/"), "no deep link when the session cannot be joined");
});

Deno.test("a started session without late join is 200 with canJoin false", async () => {
  for (const code of ["STRT33", "PAWS44"]) {
    const res = await get(harness(), `/${code}`, asJson);
    assert.equal(res.status, 200, code);
    const body = await res.json();
    assert.equal(body.canJoin, false);
    assert.equal(body.reason, "Session has already started");
  }
});

// --- status codes -----------------------------------------------------------------------------

Deno.test("unknown code is 404, ended or cancelled is 410, for HTML and JSON", async () => {
  const h = harness();
  const cases: [string, number, string][] = [
    ["/ZZZZZZ", 404, "SESSION_001"],
    ["/DNNE55", 410, "SESSION_005"],
    ["/CNCD66", 410, "SESSION_005"],
  ];
  for (const [path, status, code] of cases) {
    const page = await get(h, path, { accept: BROWSER_ACCEPT });
    assert.equal(page.status, status, path);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const html = await page.text();
    assert.ok(html.includes(path.slice(1)), "the page repeats the code");
    assert.ok(!html.includes("seer://join/"));
    const res = await get(h, path, asJson);
    assert.equal(res.status, status, path);
    const body = await res.json();
    assert.equal(body.code, code);
    assert.equal(typeof body.error, "string", "supabase clients read the message from `error`");
    assert.equal(body.details, path.slice(1));
  }
  const ended = await (await get(h, "/DNNE55", { accept: BROWSER_ACCEPT })).text();
  assert.match(ended, /This session has ended/);
  assert.ok(!ended.includes("The Sunken Library"), "an ended session's page shows nothing about it");
});

Deno.test("malformed codes are 400 and are never looked up", async () => {
  const h = harness();
  const bad = [
    "/H7NK4", // too short
    "/H7NK4BB", // too long
    "/H7NK0B", // 0 is not in the alphabet
    "/HONK1B", // nor O, 1
    "/H7NK4B/extra", // extra path
    "/%E0%A4%A", // bad percent-encoding
    "", // no code at all
    "?code=",
    "?code=%3Cscript%3E",
  ];
  for (const path of bad) {
    const res = await get(h, path, asJson);
    assert.equal(res.status, 400, path);
    assert.equal((await res.json()).code, "SESSION_002");
    // A person gets the join page: 200 without a code, 400 with what went wrong.
    const page = await get(h, path);
    const noCode = path === "" || path === "?code=";
    assert.equal(page.status, noCode ? 200 : 400, path);
    const html = await page.text();
    assert.ok(!html.includes("<script"), path);
    assert.ok(html.includes('data-testid="join-code-input"'), path);
    assert.equal(html.includes('data-testid="join-error"'), !noCode, path);
  }
  assert.deepEqual(h.lookups, []);
});

Deno.test("codes are trimmed and upper-cased; ?code= works; the path wins over the query", async () => {
  const h = harness();
  assert.equal((await get(h, "/h7nk4b")).status, 200);
  assert.equal((await get(h, "?code=%20h7nk4b%20")).status, 200);
  assert.equal((await get(h, "/ZZZZZZ?code=H7NK4B")).status, 404);
  assert.deepEqual(h.lookups, ["H7NK4B", "H7NK4B", "ZZZZZZ"]);
  assert.deepEqual(codeFromUrl(new URL("http://x/functions/v1/invite/ABCDEF")), {
    code: "ABCDEF",
    extraPath: false,
  });
  assert.equal(normalizeCode(" abcdef "), "ABCDEF");
  assert.equal(normalizeCode("ABCDE1"), null);
});

Deno.test("a failing lookup is 503 with Retry-After, never a 500, and is logged", async () => {
  const h = harness({ source: () => Promise.reject(new Error("connection refused")) });
  const res = await get(h, "/H7NK4B", asJson);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "5");
  assert.equal((await res.json()).code, "INVITE_UNAVAILABLE");
  assert.match(h.logs.join("\n"), /connection refused/);
});

Deno.test("other methods are 405 with Allow; OPTIONS is a CORS preflight; HEAD has no body", async () => {
  const h = harness();
  const put = await h.handler(new Request(`${BASE}/H7NK4B`, { method: "PUT" }));
  assert.equal(put.status, 405);
  assert.match(put.headers.get("allow") ?? "", /GET/);
  await put.body?.cancel();
  const pre = await h.handler(new Request(`${BASE}/H7NK4B`, { method: "OPTIONS" }));
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "*");
  const head = await h.handler(new Request(`${BASE}/H7NK4B`, { method: "HEAD" }));
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  assert.match(head.headers.get("content-type") ?? "", /^text\/html/);
});

// --- JSON vs HTML -----------------------------------------------------------------------------

Deno.test("JSON preview carries only public fields", async () => {
  const res = await get(harness(), "/H7NK4B", asJson);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(res.headers.get("vary"), "Accept");
  assert.deepEqual(await res.json(), {
    code: "H7NK4B",
    status: "waiting",
    adventureTitle: "The Sunken Library",
    adventureDescription: "Dive into drowned stacks.",
    seerName: "Morgana",
    seatsLeft: 4,
    maxPlayers: 6,
    canJoin: true,
    reason: null,
    reasonCode: null,
    joinDeepLink: "seer://join/H7NK4B",
  });
});

Deno.test("content negotiation: Accept, ?format= and POST", async () => {
  const h = harness();
  const type = async (res: Response) => {
    await res.body?.cancel();
    return (res.headers.get("content-type") ?? "").split(";")[0];
  };
  assert.equal(await type(await get(h, "/H7NK4B")), "text/html");
  assert.equal(await type(await get(h, "/H7NK4B", { accept: BROWSER_ACCEPT })), "text/html");
  assert.equal(await type(await get(h, "/H7NK4B", { accept: "text/html, application/json" })), "text/html");
  assert.equal(
    await type(await get(h, "/H7NK4B", { accept: "application/json, text/html" })),
    "application/json",
  );
  assert.equal(await type(await get(h, "/H7NK4B?format=json")), "application/json");
  assert.equal(await type(await get(h, "/H7NK4B?format=html", asJson)), "text/html");
  // supabase-js / supabase-py functions.invoke("invite", { body: { code } }) is a POST with JSON.
  const post = await h.handler(
    new Request(BASE, {
      method: "POST",
      body: JSON.stringify({ code: "h7nk4b" }),
      headers: { "content-type": "application/json" },
    }),
  );
  assert.equal(post.status, 200);
  assert.equal((await post.json()).code, "H7NK4B");
  const badPost = await h.handler(new Request(BASE, { method: "POST", body: "not json" }));
  assert.equal(badPost.status, 400);
  assert.equal((await badPost.json()).code, "SESSION_002");
});

Deno.test("parsePreview keeps only known fields and rejects malformed rows", () => {
  const parsed = parsePreview({
    ...preview(),
    sessionId: "0000",
    players: [{ displayName: "x" }],
    seerId: "u",
  });
  assert.deepEqual(Object.keys(parsed ?? {}).sort(), Object.keys(preview()).sort());
  assert.equal(parsePreview(null), null);
  assert.throws(() => parsePreview({ ...preview(), status: "exploded" }), /bad status/);
  assert.throws(() => parsePreview({ ...preview(), seatsLeft: -1 }), /seatsLeft/);
  assert.throws(() => parsePreview([]), /not an object/);
});

// --- rate limit -------------------------------------------------------------------------------

Deno.test("lookups are rate-limited per client address with Retry-After, and refill over the window", async () => {
  const h = harness({ max: 3 });
  for (let i = 0; i < 3; i++) {
    const res = await get(h, "/ZZZZZZ", asJson, "198.51.100.1");
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("ratelimit-remaining"), String(2 - i));
    await res.body?.cancel();
  }
  const limited = await get(h, "/H7NK4B", asJson, "198.51.100.1");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "20"); // one token per 60 s / 3
  assert.equal((await limited.json()).code, "INVITE_RATE_LIMITED");
  const page = await get(h, "/H7NK4B", {}, "198.51.100.1");
  assert.equal(page.status, 429);
  assert.match(await page.text(), /Slow down/);
  assert.equal(h.lookups.length, 3, "limited requests never reach the database");

  // Another address has its own bucket.
  assert.equal((await get(h, "/H7NK4B", asJson, "198.51.100.2")).status, 200);
  // Malformed codes cost no lookup and are not counted (they are 400 even when limited).
  assert.equal((await get(h, "/bad", asJson, "198.51.100.1")).status, 400);
  // 20 s later one more lookup is allowed, then the bucket is empty again.
  h.clock.now += 20_000;
  assert.equal((await get(h, "/H7NK4B", asJson, "198.51.100.1")).status, 200);
  assert.equal((await get(h, "/H7NK4B", asJson, "198.51.100.1")).status, 429);
});

Deno.test("RateLimiter forgets the least recently seen clients beyond maxClients", () => {
  const clock = { now: 0 };
  const limiter = new RateLimiter({ max: 1, windowMs: 60_000, now: () => clock.now, maxClients: 2 });
  assert.equal(limiter.take("a").allowed, true);
  assert.equal(limiter.take("b").allowed, true);
  assert.equal(limiter.take("a").allowed, false);
  assert.equal(limiter.take("c").allowed, true); // evicts b, the least recently seen
  assert.equal(limiter.size, 2);
  assert.equal(limiter.take("a").allowed, false, "a was seen recently and is still limited");
  assert.throws(() => new RateLimiter({ max: 0, windowMs: 1 }), RangeError);
});

Deno.test("client address: the trusted proxy's X-Forwarded-For entry, not one the client forged", () => {
  const req = (xff?: string) => new Request(BASE, { headers: xff ? { "x-forwarded-for": xff } : {} });
  assert.equal(clientAddress(req(), "10.1.1.1", 1), "10.1.1.1");
  assert.equal(clientAddress(req("198.51.100.9"), "127.0.0.1", 1), "198.51.100.9");
  // The client sent "1.2.3.4" itself; our proxy appended the real peer.
  assert.equal(clientAddress(req("1.2.3.4, 198.51.100.9"), "127.0.0.1", 1), "198.51.100.9");
  assert.equal(clientAddress(req("1.2.3.4, 198.51.100.9, 10.0.0.2"), "127.0.0.1", 2), "198.51.100.9");
  assert.equal(clientAddress(req("198.51.100.9"), "127.0.0.1", 0), "127.0.0.1");
  assert.equal(clientAddress(req("198.51.100.9"), "127.0.0.1", 5), "198.51.100.9");
});

Deno.test("network key: IPv4 per address, IPv6 per /64, IPv4-mapped IPv6 as IPv4", () => {
  assert.equal(networkKey("198.51.100.9"), "198.51.100.9");
  assert.equal(networkKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  assert.equal(networkKey("2001:DB8:1:2::1"), "2001:db8:1:2::/64");
  assert.equal(networkKey("[2001:db8:0001:0002:ffff::9]"), "2001:db8:1:2::/64");
  assert.equal(networkKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(networkKey("::ffff:198.51.100.9"), "198.51.100.9");
  assert.equal(networkKey("::1"), "0:0:0:0::/64");
  assert.equal(networkKey("unknown"), "unknown");
  assert.equal(networkKey("1::2::3"), "1::2::3");
});

Deno.test("every address of one IPv6 /64 shares one bucket", async () => {
  const h = harness({ max: 2 });
  const from = (ip: string) => get(h, "/ZZZZZZ", asJson, ip);
  assert.equal((await from("2001:db8:1:2::1")).status, 404);
  assert.equal((await from("2001:db8:1:2::2")).status, 404);
  assert.equal((await from("2001:db8:1:2:ffff:ffff:ffff:ffff")).status, 429);
  assert.equal((await from("2001:db8:1:3::1")).status, 404, "the next /64 is another network");
});

Deno.test("the network's exhausted failure budget (SESSION_015) is a 429, and the source sees the network", async () => {
  const seen: string[] = [];
  const h = harness({
    source: (_code, network) => {
      seen.push(network);
      return Promise.reject(new TooManyFailedLookups("SESSION_015"));
    },
  });
  const res = await get(h, "/ZZZZZZ", asJson, "2001:db8:9:9::5");
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "600");
  assert.equal((await res.json()).code, "INVITE_RATE_LIMITED");
  assert.deepEqual(seen, ["2001:db8:9:9::/64"]);
});

Deno.test("forged X-Forwarded-For entries do not reset the limit", async () => {
  const h = harness({ max: 2 });
  const send = (forged: string) =>
    get(h, "/ZZZZZZ", { ...asJson, "x-forwarded-for": `${forged}, 198.51.100.5` });
  assert.equal((await send("1.1.1.1")).status, 404);
  assert.equal((await send("2.2.2.2")).status, 404);
  assert.equal((await send("3.3.3.3")).status, 429);
});

// --- served over HTTP -------------------------------------------------------------------------

Deno.test("served by Deno.serve: the peer address reaches the limiter", async () => {
  const h = harness({ max: 1 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, h.handler);
  try {
    const url = `http://127.0.0.1:${server.addr.port}/invite/H7NK4B`;
    const first = await fetch(url, { headers: asJson });
    assert.equal(first.status, 200);
    assert.equal((await first.json()).seerName, "Morgana");
    const second = await fetch(url, { headers: asJson });
    assert.equal(second.status, 429);
    await second.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("renderPreviewPage without optional fields still renders", () => {
  const html = renderPreviewPage(
    preview({
      adventureTitle: null,
      adventureDescription: null,
      seerName: null,
      seatsLeft: null,
      maxPlayers: null,
    }),
  );
  assert.match(html, /A Seer adventure/);
  assert.match(html, /data-testid="seats-left">unknown</);
  assert.ok(!html.includes('data-testid="adventure-description"'));
});

Deno.test("the entry point refuses to start without its environment, naming the variable", async () => {
  const { handlerFromEnv } = await import("./index.ts");
  const saved = Deno.env.get("SUPABASE_URL");
  Deno.env.delete("SUPABASE_URL");
  try {
    await assert.rejects(() => handlerFromEnv(), /SUPABASE_URL is not set/);
  } finally {
    if (saved !== undefined) Deno.env.set("SUPABASE_URL", saved);
  }
});

// --- the web client ---------------------------------------------------------------------------

const API = "https://abc.supabase.co";

async function clientHarness() {
  const assets = new Map();
  for (const name of CLIENT_SCRIPTS) {
    assets.set(name, await makeAsset(name, new TextEncoder().encode(`/* ${name} */`)));
  }
  const handler = createInviteHandler({
    source: (code) => Promise.resolve(SESSIONS[code] ?? null),
    limiter: new RateLimiter({ max: 1000, windowMs: 60_000 }),
    client: { apiUrl: API, anonKey: "anon.key.<x>", assets },
    nonce: () => "TESTNONCE",
    log: () => {},
  });
  return { handler, assets };
}

Deno.test("with the web client, the preview loads only its own scripts, under a nonce and SRI", async () => {
  const { handler, assets } = await clientHarness();
  const res = await handler(new Request(`${BASE}/H7NK4B`, { headers: { accept: BROWSER_ACCEPT } }));
  assert.equal(res.status, 200);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.equal(
    csp,
    "default-src 'none'; script-src 'nonce-TESTNONCE'; style-src 'nonce-TESTNONCE'; " +
      "connect-src https://abc.supabase.co wss://abc.supabase.co; img-src data:; base-uri 'none'; " +
      "form-action 'self'; frame-ancestors 'none'",
  );
  const html = await res.text();
  const tags = [...html.matchAll(/<script[^>]*>/g)].map((m) => m[0]);
  assert.deepEqual(
    tags,
    CLIENT_SCRIPTS.map((name) => {
      const a = assets.get(name)!;
      return `<script defer nonce="TESTNONCE" src="./static/${name}?v=${a.version}" integrity="${a.integrity}" crossorigin="anonymous">`;
    }),
  );
  // no inline code: every script element is empty and has a src
  assert.equal([...html.matchAll(/<script[^>]*><\/script>/g)].length, CLIENT_SCRIPTS.length);
  assert.match(html, /<style nonce="TESTNONCE">/);
  assert.match(html, /<meta name="seer-api-url" content="https:\/\/abc.supabase.co">/);
  assert.match(html, /<meta name="seer-anon-key" content="anon.key.&lt;x&gt;">/);
  assert.match(html, /<section id="seer-app" class="card" data-code="H7NK4B" data-can-join="true"/);
  assert.match(html, /data-testid="session-preview"/);
  assert.match(html, /href="seer:\/\/join\/H7NK4B"/, "the app link stays for people with the app");
});

Deno.test("script URLs are relative to wherever the function is mounted", async () => {
  assert.equal(rootHref(new URL("http://x/functions/v1/invite")), "invite/");
  assert.equal(rootHref(new URL("http://x/functions/v1/invite/")), "./");
  assert.equal(rootHref(new URL("http://x/functions/v1/invite/H7NK4B")), "./");
  assert.equal(rootHref(new URL("http://x/invite/H7NK4B/")), "../");
  assert.equal(rootHref(new URL("http://x/invite/a/b")), "../");
  const { handler } = await clientHarness();
  const html = await (await handler(new Request(`${BASE}?code=H7NK4B`))).text();
  assert.match(html, /src="invite\/static\/app\.js\?v=/);
});

Deno.test("static files: known names only, with type, nosniff and the SRI-checked bytes", async () => {
  const { handler, assets } = await clientHarness();
  const res = await handler(new Request(`${BASE}/static/app.js?v=1`));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), assets.get("app.js")!.body);
  for (
    const path of [
      "/static/nope.js",
      "/static/..%2Findex.ts",
      "/static/%2E%2E/index.ts",
      "/static/",
      "/static/a/b",
    ]
  ) {
    const miss = await handler(new Request(`${BASE}${path}`));
    assert.ok(!miss.headers.get("content-type")?.startsWith("text/javascript"), path);
    assert.ok([400, 404].includes(miss.status), `${path}: ${miss.status}`);
    await miss.body?.cancel();
  }
  const head = await handler(new Request(`${BASE}/static/protocol.js`, { method: "HEAD" }));
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  // without the web client there are no static files (and no script on the page)
  const plain = await get(harness(), "/static/app.js");
  assert.equal(plain.status, 404);
  await plain.body?.cancel();
  const page = await (await get(harness(), "/H7NK4B", { accept: BROWSER_ACCEPT })).text();
  assert.ok(!page.includes("<script"));
});

Deno.test("the join page: a plain form to the root, its own CSP, and the typed code escaped", async () => {
  const { handler } = await clientHarness();
  const page = await handler(new Request(`${BASE}`, { headers: { accept: BROWSER_ACCEPT } }));
  assert.equal(page.status, 200);
  const csp = page.headers.get("content-security-policy") ?? "";
  assert.match(csp, /form-action 'self'/);
  assert.match(csp, /default-src 'none'/);
  assert.ok(!csp.includes("script-src"));
  const html = await page.text();
  assert.match(html, /<form method="get" action="invite\/" data-testid="join-form">/);
  assert.match(html, /data-testid="join-code-input"/);
  assert.match(html, /data-testid="find-session"/);
  assert.ok(!html.includes("<script"));
  const bad = await handler(new Request(`${BASE}?code=%3Cb%3Ex`, { headers: { accept: BROWSER_ACCEPT } }));
  assert.equal(bad.status, 400);
  const badHtml = await bad.text();
  assert.match(badHtml, /data-testid="join-error"/);
  assert.match(badHtml, /value="&lt;b&gt;x"/);
  assert.ok(!badHtml.includes("<b>"));
  // an unknown code's page links back to the join page
  const missing = await (await handler(new Request(`${BASE}/ZZZZZZ`))).text();
  assert.match(missing, /data-testid="enter-code-link" href=".\/"/);
});

Deno.test("loadAssets reads the real static files; the vendored supabase-js is the pinned build", async () => {
  const assets = await loadAssets();
  assert.deepEqual([...assets.keys()], [...CLIENT_SCRIPTS]);
  const vendored = assets.get("supabase-js-2.119.1.umd.js")!;
  const sha256 = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", vendored.body as Uint8Array<ArrayBuffer>)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  // npm tarball @supabase/supabase-js@2.119.1, dist/umd/supabase.js (docs/invite.md)
  assert.equal(sha256, "d60f104b9cc23ca022ea6f7574e256aeea84823fe97806c241524b6355031800");
  const deno = JSON.parse(await Deno.readTextFile(new URL("./deno.json", import.meta.url)));
  assert.equal(deno.imports["@supabase/supabase-js"], "npm:@supabase/supabase-js@2.119.1");
});
