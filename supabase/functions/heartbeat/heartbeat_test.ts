// Unit tests of the heartbeat collector (collector.ts) and its request handling (handler.ts) with
// in-memory ports and a fake timer: no network, no database.

import assert from "node:assert/strict";
import { type Answer, type BatchBeat, Collector, type Reply, type Timer, UNAVAILABLE } from "./collector.ts";
import { createHeartbeatHandler, signedInUser } from "./handler.ts";

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

function token(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) =>
    btoa(JSON.stringify(o)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}.signature`;
}

const user = (sub: string) => token({ sub, role: "authenticated", exp: NOW / 1000 + 3600 });

function setup(windowMs = 100, maxBatch?: number) {
  const ports = new Ports();
  const timer = new FakeTimer();
  const logs: string[] = [];
  const collector = new Collector(ports, { windowMs, maxBatch, timer, log: (m) => logs.push(m) });
  const handler = createHeartbeatHandler(collector, () => NOW);
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

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** The window ends: once the requests reached the collector (reading a body is asynchronous). */
async function endWindow(h: { timer: FakeTimer }): Promise<void> {
  await settle();
  h.timer.fire();
}

Deno.test("beats within one window travel as one batch, and each gets its own answer", async () => {
  const h = setup();
  h.ports.live.add(`${S1}/${U1}`).add(`${S2}/${U2}`);
  const a = h.post({ sessionId: S1 }, user(U1));
  const b = h.post({ sessionId: S2 }, user(U2));
  await settle();
  assert.equal(h.ports.batches.length, 0, "nothing is sent before the window ends");
  assert.deepEqual(h.timer.delays, [100], "one timer for the window");
  await endWindow(h);
  const [ra, rb] = await Promise.all([a, b]);
  assert.deepEqual(h.ports.batches, [[{ sessionId: S1, userId: U1 }, { sessionId: S2, userId: U2 }]]);
  assert.equal(ra.status, 200);
  assert.deepEqual(await ra.json(), { sessionId: S1, status: "connected", restored: false });
  assert.deepEqual(await rb.json(), { sessionId: S2, status: "connected", restored: false });
  assert.equal(h.ports.singles.length, 0);
  assert.deepEqual([h.collector.batches, h.collector.beats], [1, 2]);
});

Deno.test("a beat the batch answers null goes on as the caller's own heartbeat, with their token", async () => {
  const h = setup();
  h.ports.live.add(`${S1}/${U1}`);
  const t2 = user(U2);
  const a = h.post({ sessionId: S1 }, user(U1));
  const b = h.post({ sessionId: S1 }, t2);
  await endWindow(h);
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(ra.status, 200);
  assert.deepEqual(h.ports.singles, [[t2, S1]]);
  assert.deepEqual(await rb.json(), { sessionId: S1, status: "connected", restored: true });
});

Deno.test("a full batch goes at once, without waiting for the window", async () => {
  const h = setup(100, 2);
  h.ports.live.add(`${S1}/${U1}`).add(`${S2}/${U2}`);
  const replies = Promise.all([h.post({ sessionId: S1 }, user(U1)), h.post({ sessionId: S2 }, user(U2))]);
  const rs = await replies;
  assert.deepEqual(rs.map((r) => r.status), [200, 200]);
  assert.equal(h.ports.batches.length, 1);
  // the window's timer was cleared: firing it sends nothing more
  await endWindow(h);
  await settle();
  assert.equal(h.ports.batches.length, 1);
});

Deno.test("when the batch fails, every beat of it goes alone: none is lost", async () => {
  const h = setup();
  h.ports.batchFails = true;
  const t1 = user(U1);
  const a = h.post({ sessionId: S1 }, t1);
  const b = h.post({ sessionId: S2 }, t1);
  await endWindow(h);
  const rs = await Promise.all([a, b]);
  assert.deepEqual(rs.map((r) => r.status), [200, 200]);
  assert.deepEqual(h.ports.singles, [[t1, S1], [t1, S2]]);
  assert.match(h.logs.join("\n"), /batch of 2 failed/);
});

Deno.test("when the database is unreachable, the caller gets 503 and can retry", async () => {
  const h = setup();
  h.ports.batchFails = true;
  h.ports.sendOne = () => Promise.reject(new Error("down"));
  const r = h.post({ sessionId: S1 }, user(U1));
  await endWindow(h);
  const res = await r;
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), UNAVAILABLE.body);
});

Deno.test("a token that is not a signed-in user's is not batched: the database answers it", async () => {
  const h = setup();
  for (
    const t of [
      "",
      token({ role: "anon", exp: NOW / 1000 + 60 }),
      token({ role: "service_role", exp: NOW / 1000 + 60 }),
      token({ sub: U1, role: "authenticated", exp: NOW / 1000 - 1 }),
      token({ sub: "not-a-uuid", role: "authenticated", exp: NOW / 1000 + 60 }),
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
    const res = await h.post(body, user(U1));
    assert.equal(res.status, 400, JSON.stringify(body).slice(0, 40));
    const err = await res.json();
    assert.equal(err.code, "SESSION_000");
  }
  const res = await createHeartbeatHandler(h.collector)(new Request("http://fn.local/heartbeat"));
  assert.equal(res.status, 405);
  assert.equal((await res.json()).code, "HEARTBEAT_METHOD_NOT_ALLOWED");
  assert.equal(h.ports.batches.length + h.ports.singles.length, 0);
});

Deno.test("a body past 1 KiB is refused without reading it all, with or without a length", async () => {
  const h = setup();
  const handler = createHeartbeatHandler(h.collector, () => NOW);
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
      headers: { authorization: `Bearer ${user(U1)}` },
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

Deno.test("signedInUser reads a signed-in user's id, lower-cased, and nothing else", () => {
  const now = NOW / 1000;
  assert.equal(signedInUser(user(U1.toUpperCase()), now), U1);
  assert.equal(signedInUser(token({ sub: U1, role: "authenticated" }), now), null, "no exp");
  assert.equal(signedInUser(token({ sub: U1, role: "authenticated", exp: "2099" }), now), null);
  assert.equal(signedInUser("a.b", now), null);
  assert.equal(signedInUser("a.!!!.c", now), null);
});

Deno.test("a batch never holds more than 1,000 beats", async () => {
  const h = setup(100, 5000);
  h.ports.live.add(`${S1}/${U1}`);
  const t = user(U1);
  const replies = Array.from({ length: 1001 }, () => h.post({ sessionId: S1 }, t));
  await settle();
  await settle();
  await endWindow(h);
  const rs = await Promise.all(replies);
  assert.ok(rs.every((r) => r.status === 200));
  assert.deepEqual(h.ports.batches.map((b) => b.length), [1000, 1]);
});
