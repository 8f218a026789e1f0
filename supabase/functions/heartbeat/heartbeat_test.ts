// Unit tests of the heartbeat collector (collector.ts) and its request handling (handler.ts) with
// in-memory ports and a fake timer: no network, no database.

import assert from "node:assert/strict";
import { type Answer, type BatchBeat, Collector, type Reply, type Timer, UNAVAILABLE } from "./collector.ts";
import { createHeartbeatHandler } from "./handler.ts";
import { supabaseAsymmetricCheck } from "./source.ts";
import { createVerifier, signedInUser } from "./verify.ts";

const S1 = "11111111-1111-4111-8111-111111111111";
const S2 = "22222222-2222-4222-8222-222222222222";
const U1 = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const U2 = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
const NOW = 1_800_000_000_000;

class FakeTimer implements Timer {
  #next = 0;
  #due = new Map<number, () => void>();
  delays: number[] = [];
  set(fn: () => void, ms: number): unknown {
    this.#next += 1;
    this.#due.set(this.#next, fn);
    this.delays.push(ms);
    return this.#next;
  }
  clear(handle: unknown): void {
    this.#due.delete(handle as number);
  }
  fire(): void {
    const due = [...this.#due.values()];
    this.#due.clear();
    for (const fn of due) fn();
  }
}

/** In-memory ports: the batch answers beats of `live` pairs, every other beat is null. */
class Ports {
  batches: BatchBeat[][] = [];
  singles: [string, string][] = [];
  live = new Set<string>();
  batchFails = false;
  async sendBatch(beats: BatchBeat[]): Promise<(Answer | null)[]> {
    this.batches.push(beats);
    await Promise.resolve();
    if (this.batchFails) throw new Error("connection refused");
    return beats.map((b) =>
      this.live.has(`${b.sessionId}/${b.userId}`)
        ? { sessionId: b.sessionId, status: "connected", restored: false, userId: b.userId }
        : null
    );
  }
  async sendOne(token: string, sessionId: string): Promise<Reply> {
    this.singles.push([token, sessionId]);
    await Promise.resolve();
    if (token === "") return { status: 401, body: { code: "42501", message: "permission denied" } };
    return { status: 200, body: { sessionId, status: "connected", restored: true } };
  }
}

const SECRET = "heartbeat-test-secret-with-at-least-32-characters";

function b64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const text = (o: unknown) => b64url(new TextEncoder().encode(JSON.stringify(o)));

/** A token signed with HS256 and `secret`, as GoTrue signs with the legacy JWT secret. */
async function token(claims: Record<string, unknown>, secret = SECRET): Promise<string> {
  const unsigned = `${text({ alg: "HS256", typ: "JWT" })}.${text(claims)}`;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(unsigned)));
  return `${unsigned}.${b64url(sig)}`;
}

const user = (sub: string, secret = SECRET) =>
  token({ sub, role: "authenticated", exp: NOW / 1000 + 3600 }, secret);

/** The verifier the function builds, with the test secret and no asymmetric keys. */
const VERIFY = createVerifier({ hs256Secret: SECRET, asymmetric: () => Promise.resolve(null) });

function setup(windowMs = 100, maxBatch?: number) {
  const ports = new Ports();
  const timer = new FakeTimer();
  const logs: string[] = [];
  const collector = new Collector(ports, { windowMs, maxBatch, timer, log: (m) => logs.push(m) });
  const handler = createHeartbeatHandler(collector, VERIFY, () => NOW);
  const post = (body: unknown, bearer?: string) =>
    handler(
      new Request("http://fn.local/heartbeat", {
        method: "POST",
        headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    );
  return { ports, timer, logs, collector, post };
}

/** Let the requests reach the collector (reading a body and verifying a token are asynchronous). */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Polls until `cond` holds (at most 10 s): for waits a fixed pause cannot bound. */
async function until(cond: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Beats in session order: concurrent requests reach the collector in any order. */
function bySession(beats: BatchBeat[]): BatchBeat[] {
  return [...beats].sort((x, y) => x.sessionId.localeCompare(y.sessionId));
}

/** The window ends once `beats` requests wait in the collector (reading a body and verifying a
 * token are asynchronous, and slower on a loaded machine than any fixed pause). */
async function endWindow(h: { timer: FakeTimer; collector: Collector }, beats: number): Promise<void> {
  await until(() => h.collector.waiting === beats);
  h.timer.fire();
}

Deno.test("beats within one window travel as one batch, and each gets its own answer", async () => {
  const h = setup();
  h.ports.live.add(`${S1}/${U1}`).add(`${S2}/${U2}`);
  const a = h.post({ sessionId: S1 }, await user(U1));
  const b = h.post({ sessionId: S2 }, await user(U2));
  await until(() => h.collector.waiting === 2);
  assert.equal(h.ports.batches.length, 0, "nothing is sent before the window ends");
  assert.deepEqual(h.timer.delays, [100], "one timer for the window");
  await endWindow(h, 2);
  const [ra, rb] = await Promise.all([a, b]);
  // the two requests reach the collector in either order (each verifies its token first)
  assert.equal(h.ports.batches.length, 1);
  assert.deepEqual(bySession(h.ports.batches[0]), [{ sessionId: S1, userId: U1 }, {
    sessionId: S2,
    userId: U2,
  }]);
  assert.equal(ra.status, 200);
  assert.deepEqual(await ra.json(), { sessionId: S1, status: "connected", restored: false });
  assert.deepEqual(await rb.json(), { sessionId: S2, status: "connected", restored: false });
  assert.equal(h.ports.singles.length, 0);
  assert.deepEqual([h.collector.batches, h.collector.beats], [1, 2]);
});

Deno.test("a beat the batch answers null goes on as the caller's own heartbeat, with their token", async () => {
  const h = setup();
  h.ports.live.add(`${S1}/${U1}`);
  const t2 = await user(U2);
  const a = h.post({ sessionId: S1 }, await user(U1));
  const b = h.post({ sessionId: S1 }, t2);
  await endWindow(h, 2);
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(ra.status, 200);
  assert.deepEqual(h.ports.singles, [[t2, S1]]);
  assert.deepEqual(await rb.json(), { sessionId: S1, status: "connected", restored: true });
});

Deno.test("a full batch goes at once, without waiting for the window", async () => {
  const h = setup(100, 2);
  h.ports.live.add(`${S1}/${U1}`).add(`${S2}/${U2}`);
  const replies = Promise.all([
    h.post({ sessionId: S1 }, await user(U1)),
    h.post({ sessionId: S2 }, await user(U2)),
  ]);
  const rs = await replies;
  assert.deepEqual(rs.map((r) => r.status), [200, 200]);
  assert.equal(h.ports.batches.length, 1);
  // the window's timer was cleared: firing it sends nothing more
  await endWindow(h, 0);
  await settle();
  assert.equal(h.ports.batches.length, 1);
});

Deno.test("when the batch fails, every beat of it goes alone: none is lost", async () => {
  const h = setup();
  h.ports.batchFails = true;
  const t1 = await user(U1);
  const a = h.post({ sessionId: S1 }, t1);
  const b = h.post({ sessionId: S2 }, t1);
  await endWindow(h, 2);
  const rs = await Promise.all([a, b]);
  assert.deepEqual(rs.map((r) => r.status), [200, 200]);
  // in the order the two requests reached the collector, which either may reach first
  assert.deepEqual([...h.ports.singles].sort((x, y) => x[1].localeCompare(y[1])), [[t1, S1], [t1, S2]]);
  assert.match(h.logs.join("\n"), /batch of 2 failed/);
});

Deno.test("when the database is unreachable, the caller gets 503 and can retry", async () => {
  const h = setup();
  h.ports.batchFails = true;
  h.ports.sendOne = () => Promise.reject(new Error("down"));
  const r = h.post({ sessionId: S1 }, await user(U1));
  await endWindow(h, 1);
  const res = await r;
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), UNAVAILABLE.body);
});

Deno.test("a token that is not a signed-in user's is not batched: the database answers it", async () => {
  const h = setup();
  for (
    const t of [
      "",
      await token({ role: "anon", exp: NOW / 1000 + 60 }),
      await token({ role: "service_role", exp: NOW / 1000 + 60 }),
      await token({ sub: U1, role: "authenticated", exp: NOW / 1000 - 1 }),
      await token({ sub: "not-a-uuid", role: "authenticated", exp: NOW / 1000 + 60 }),
      "garbage",
    ]
  ) {
    const res = await h.post({ sessionId: S1 }, t || undefined);
    assert.equal(res.status, t === "" ? 401 : 200);
  }
  assert.equal(h.ports.batches.length, 0);
  assert.equal(h.timer.delays.length, 0);
  assert.equal(h.ports.singles.length, 6);
  assert.equal(h.ports.singles[0][0], "", "no token goes on as no token");
});

Deno.test("bad bodies are 400 SESSION_000 and send nothing; other methods are 405", async () => {
  const h = setup();
  for (
    const body of [
      "",
      "{",
      "[]",
      "null",
      '"x"',
      { sessionId: "nope" },
      { sessionId: 7 },
      {},
      "x".repeat(2000),
    ]
  ) {
    const res = await h.post(body, await user(U1));
    assert.equal(res.status, 400, JSON.stringify(body).slice(0, 40));
    const err = await res.json();
    assert.equal(err.code, "SESSION_000");
  }
  const res = await createHeartbeatHandler(h.collector, VERIFY)(new Request("http://fn.local/heartbeat"));
  assert.equal(res.status, 405);
  assert.equal((await res.json()).code, "HEARTBEAT_METHOD_NOT_ALLOWED");
  assert.equal(h.ports.batches.length + h.ports.singles.length, 0);
});

Deno.test("a body past 1 KiB is refused without reading it all, with or without a length", async () => {
  const h = setup();
  const handler = createHeartbeatHandler(h.collector, VERIFY, () => NOW);
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += 1;
      controller.enqueue(new TextEncoder().encode(" ".repeat(512)));
    },
  });
  const res = await handler(
    new Request("http://fn.local/heartbeat", {
      method: "POST",
      headers: { authorization: `Bearer ${(await user(U1))}` },
      body: endless,
    }),
  );
  assert.equal(res.status, 400);
  assert.ok(pulled <= 4, `read ${pulled} chunks`);
  const declared = await handler(
    new Request("http://fn.local/heartbeat", {
      method: "POST",
      headers: { "content-length": "5000" },
      body: JSON.stringify({ sessionId: S1 }),
    }),
  );
  assert.equal(declared.status, 400);
  assert.equal(h.ports.batches.length + h.ports.singles.length, 0);
});

Deno.test("signedInUser reads a signed-in user's id, lower-cased, and nothing else", async () => {
  const now = NOW / 1000;
  assert.equal(signedInUser(await user(U1.toUpperCase()), now), U1);
  assert.equal(signedInUser(await token({ sub: U1, role: "authenticated" }), now), null, "no exp");
  assert.equal(signedInUser(await token({ sub: U1, role: "authenticated", exp: "2099" }), now), null);
  assert.equal(signedInUser("a.b", now), null);
  assert.equal(signedInUser("a.!!!.c", now), null);
});

Deno.test("a batch never holds more than 1,000 beats", async () => {
  const h = setup(100, 5000);
  h.ports.live.add(`${S1}/${U1}`);
  const t = await user(U1);
  const replies = Array.from({ length: 1001 }, () => h.post({ sessionId: S1 }, t));
  // the 1,000th beat sent the first batch at once; the 1,001st waits for its own window
  await until(() => h.ports.batches.length === 1);
  await endWindow(h, 1);
  const rs = await Promise.all(replies);
  assert.ok(rs.every((r) => r.status === 200));
  assert.deepEqual(h.ports.batches.map((b) => b.length), [1000, 1]);
});

Deno.test("a token this function cannot verify is not batched: the database answers it", async () => {
  const forged = await user(U1, "not-the-project-secret-but-just-as-long-as-it");
  const none = `${text({ alg: "none", typ: "JWT" })}.${
    text({ sub: U1, role: "authenticated", exp: NOW / 1000 + 60 })
  }.`;
  for (
    const [verify, t] of [
      [VERIFY, forged],
      [VERIFY, none],
      // no HEARTBEAT_JWT_SECRET: no HS256 token is batched, however well signed
      [createVerifier({ asymmetric: () => Promise.resolve(U1) }), await user(U1)],
    ] as const
  ) {
    const h = setup();
    h.ports.live.add(`${S1}/${U1}`);
    const handler = createHeartbeatHandler(h.collector, verify, () => NOW);
    const res = await handler(
      new Request("http://fn.local/heartbeat", {
        method: "POST",
        headers: { authorization: `Bearer ${t}` },
        body: JSON.stringify({ sessionId: S1 }),
      }),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(h.ports.batches, []);
    assert.deepEqual(h.ports.singles, [[t, S1]]);
  }
});

/** An ES256 key pair with its public JWK, as a project on the new signing keys has. */
async function es256(kid: string) {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const jwk = { ...(await crypto.subtle.exportKey("jwk", pair.publicKey)), kid, alg: "ES256", use: "sig" };
  const sign = async (claims: Record<string, unknown>) => {
    const unsigned = `${text({ alg: "ES256", typ: "JWT", kid })}.${text(claims)}`;
    const sig = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      pair.privateKey,
      new TextEncoder().encode(unsigned),
    );
    return `${unsigned}.${b64url(new Uint8Array(sig))}`;
  };
  return { jwk, sign };
}

Deno.test("asymmetric tokens are checked against the project's JWKS (supabase-js getClaims)", async () => {
  const key = await es256("key-1");
  const other = await es256("key-1"); // same kid, another private key: a forgery
  const unknown = await es256("key-2");
  let jwksFetches = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/auth/v1/.well-known/jwks.json") {
      jwksFetches += 1;
      return Response.json({ keys: [key.jwk] });
    }
    // getClaims asks GoTrue for a key it does not know: the token is refused there
    return Response.json({ code: 401, error_code: "bad_jwt", msg: "invalid JWT" }, { status: 401 });
  });
  try {
    const check = supabaseAsymmetricCheck(`http://127.0.0.1:${server.addr.port}`, "anon-key");
    const claims = { sub: U1, role: "authenticated", exp: Math.floor(Date.now() / 1000) + 600 };
    assert.equal(await check(await key.sign(claims)), U1);
    assert.equal(await check(await key.sign({ ...claims, sub: U2 })), U2);
    assert.equal(jwksFetches, 1, "the keys are fetched once and cached");
    assert.equal(await check(await other.sign(claims)), null, "a forged signature");
    assert.equal(await check(await unknown.sign(claims)), null, "an unknown key");
    // and the verifier batches only the verified sub
    const verify = createVerifier({ asymmetric: check });
    assert.equal(await verify(await key.sign(claims), U1), true);
    assert.equal(await verify(await key.sign(claims), U2), false);
    assert.equal(await verify(await other.sign(claims), U1), false);
  } finally {
    await server.shutdown();
  }
});
