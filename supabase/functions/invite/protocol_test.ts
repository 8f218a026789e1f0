// Unit tests for the web client's session stream (static/protocol.js) against an in-memory server
// (the RPCs, the event log, Realtime channels) and fake timers: delivery once and in seq order,
// gaps and lost broadcasts read from the log, rekeys followed, removal, heartbeats, the PRD's
// reconnect backoff. The browser end-to-end tests (tests/e2e) run the same code against the devstack.

import assert from "node:assert/strict";
import "./static/protocol.js";

interface Event {
  seq: number;
  type: string;
  sessionId: string;
  timestamp: string;
  [key: string]: unknown;
}
interface Handlers {
  onBroadcast(data: unknown): void;
  onPresence(keys: string[]): void;
  onTrouble(reason: string): void;
}
interface Link {
  topic: string;
  handlers: Handlers;
  closed: boolean;
  tracked: unknown[];
  track(payload: unknown): Promise<void>;
  close(): Promise<void>;
}
interface Stream {
  status: string;
  topic: string | null;
  stopped: boolean;
  removed: { code: string; details: string } | null;
  lastSeq: number;
  connects: number;
  reconnects: number;
  rekeys: number;
  liveDelivered: number;
  recovered: number;
  gapsDetected: number;
  discardedBroadcasts: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  followTopic(known?: string): void;
  reconnectNow(): void;
}
interface Protocol {
  HEARTBEAT_MS: number;
  MAX_RECONNECT_ATTEMPTS: number;
  RpcError: new (code: string | null, message: string, details?: string | null) => Error;
  SessionStream: new (options: Record<string, unknown>) => Stream;
  backoffDelay(attempt: number, random?: () => number): number;
  pokeOf(data: unknown, sessionId: string): { seq: number; type: string } | null;
}

const P = (globalThis as unknown as { SeerProtocol: Protocol }).SeerProtocol;
const SID = "5e55a000-0000-4000-8000-000000000001";

/** Lets pending promise callbacks run. */
const flush = async (turns = 5) => {
  for (let i = 0; i < turns; i++) await new Promise((r) => setTimeout(r, 0));
};

class FakeTimers {
  now = 0;
  #next = 1;
  readonly pending = new Map<number, { at: number; fn: () => void; every?: number }>();
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.#next++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  };
  clearTimeout = (id: number) => void this.pending.delete(id);
  setInterval = (fn: () => void, ms: number) => {
    const id = this.#next++;
    this.pending.set(id, { at: this.now + ms, fn, every: ms });
    return id;
  };
  clearInterval = (id: number) => void this.pending.delete(id);
  /** Delays of the pending one-shot timeouts. */
  timeouts(): number[] {
    return [...this.pending.values()].filter((t) => !t.every).map((t) => t.at - this.now);
  }
  async advance(ms: number) {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) =>
        a[1].at - b[1].at
      );
      if (due.length === 0) break;
      const [id, t] = due[0];
      this.now = t.at;
      if (t.every) t.at += t.every;
      else this.pending.delete(id);
      t.fn();
      await flush();
    }
    this.now = until;
    await flush();
  }
}

class FakeServer {
  log: Event[] = [];
  key = 1;
  removed: string | null = null;
  refuseJoins = 0;
  heartbeats = 0;
  links: Link[] = [];

  get topic() {
    return `session:${SID}:${String(this.key).padStart(32, "0")}`;
  }
  emit(type: string, fields: Record<string, unknown> = {}, broadcast = true): Event {
    const event = {
      seq: this.log.length + 1,
      type,
      sessionId: SID,
      timestamp: new Date(0).toISOString(),
      ...fields,
    };
    this.log.push(event);
    if (broadcast) this.send({ ...event, id: `m${event.seq}` });
    return event;
  }
  send(data: unknown) {
    for (const link of this.links) {
      if (!link.closed && link.topic === this.topic) link.handlers.onBroadcast(data);
    }
  }
  /** A removal: rotate the key, poke the old topic (unless the poke is lost). */
  rotate(removedUser = false, pokeLost = false) {
    const old = this.links.filter((l) => !l.closed && l.topic === this.topic);
    this.key += 1;
    if (removedUser) this.removed = "kicked";
    for (const link of pokeLost ? [] : old) {
      link.handlers.onBroadcast({ sessionId: SID, seq: this.log.length, type: "rekey" });
    }
  }
  refusal() {
    return new P.RpcError("SESSION_006", "You are not in this session", this.removed);
  }
  api = {
    heartbeat: () => {
      this.heartbeats += 1;
      if (this.removed) return Promise.reject(this.refusal());
      return Promise.resolve({
        lastSeq: this.log.length,
        status: "connected",
        sessionId: SID,
        channelGeneration: this.key - 1,
      });
    },
    sessionTopic: () =>
      this.removed
        ? Promise.reject(this.refusal())
        : Promise.resolve({ topic: this.topic, generation: this.key - 1 }),
    eventsSince: (after: number, limit: number) => {
      if (this.removed) return Promise.reject(new P.RpcError("SESSION_001", "Session not found"));
      return Promise.resolve(this.log.filter((e) => e.seq > after).slice(0, limit));
    },
  };
  realtime = {
    join: (topic: string, handlers: Handlers) => {
      if (this.refuseJoins > 0) {
        this.refuseJoins -= 1;
        return Promise.reject(new Error("channel CHANNEL_ERROR"));
      }
      const link: Link = {
        topic,
        handlers,
        closed: false,
        tracked: [],
        track: (p) => (link.tracked.push(p), Promise.resolve()),
        close: () => (link.closed = true, Promise.resolve()),
      };
      this.links.push(link);
      return Promise.resolve(link);
    },
  };
  openLinks() {
    return this.links.filter((l) => !l.closed);
  }
}

function setup(startSeq = 0) {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const delivered: number[] = [];
  const statuses: string[] = [];
  const removed: unknown[] = [];
  const stream = new P.SessionStream({
    sessionId: SID,
    startSeq,
    api: server.api,
    realtime: server.realtime,
    presence: () => ({ user_id: "u1", status: "online" }),
    onEvent: (e: Event) => delivered.push(e.seq),
    onStatus: (s: string) => statuses.push(s),
    onRemoved: (err: unknown) => removed.push(err),
    onError: () => {},
    timers,
    random: () => 0,
  });
  return { server, timers, delivered, statuses, removed, stream };
}

Deno.test("backoff: the PRD's min(1000 * 2^n, 30000) ms, up to 10 % shorter at random", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => P.backoffDelay(n, () => 0)), [
    2000,
    4000,
    8000,
    16000,
    30000,
    30000,
  ]);
  assert.equal(P.backoffDelay(1, () => 1), 1800);
  assert.equal(P.MAX_RECONNECT_ATTEMPTS, 5);
  assert.equal(P.HEARTBEAT_MS, 30_000);
});

Deno.test("pokeOf accepts this session's events and pokes only", () => {
  assert.deepEqual(P.pokeOf({ sessionId: SID, seq: 3, type: "x" }, SID), { seq: 3, type: "x" });
  for (
    const bad of [null, [], "x", { sessionId: SID, seq: -1, type: "x" }, {
      sessionId: SID,
      seq: 1.5,
      type: "x",
    }]
  ) {
    assert.equal(P.pokeOf(bad, SID), null);
  }
  assert.equal(P.pokeOf({ sessionId: "other", seq: 3, type: "x" }, SID), null);
  assert.equal(P.pokeOf({ sessionId: SID, seq: 3, type: "" }, SID), null);
});

Deno.test("connect: heartbeat, topic, join, presence, catch-up; then live events once and in order", async () => {
  const { server, delivered, statuses, stream } = setup();
  server.emit("session_created", {}, false);
  server.emit("player_joined", {}, false);
  await stream.start();
  assert.equal(stream.status, "connected");
  assert.deepEqual(statuses, ["connecting", "connected"]);
  assert.equal(server.heartbeats, 1);
  assert.equal(stream.topic, server.topic);
  assert.deepEqual(server.openLinks()[0].tracked, [{ user_id: "u1", status: "online" }]);
  assert.deepEqual(delivered, [1, 2]); // from the log
  assert.equal(stream.recovered, 2);
  const third = server.emit("session_status");
  server.send({ ...third, id: "dup" }); // a duplicate
  server.emit("node_change");
  await flush();
  assert.deepEqual(delivered, [1, 2, 3, 4]);
  assert.equal(stream.liveDelivered, 2);
  await stream.stop();
  assert.equal(server.openLinks().length, 0);
});

Deno.test("a lost broadcast: the next event's seq shows the gap and the log fills it, in order", async () => {
  const { server, delivered, stream } = setup();
  await stream.start();
  server.emit("a");
  server.emit("b", {}, false); // lost
  server.emit("c");
  await flush();
  assert.deepEqual(delivered, [1, 2, 3]);
  assert.equal(stream.gapsDetected, 1);
  assert.equal(stream.recovered, 1);
  await stream.stop();
});

Deno.test("a lost last broadcast: the heartbeat's lastSeq brings it in", async () => {
  const { server, timers, delivered, stream } = setup();
  await stream.start();
  server.emit("a", {}, false);
  await flush();
  assert.deepEqual(delivered, []);
  await timers.advance(30_000);
  assert.equal(server.heartbeats, 2);
  assert.deepEqual(delivered, [1]);
  await stream.stop();
});

Deno.test("a lost rekey poke: the next heartbeat's channelGeneration moves the stream to the new topic", async () => {
  const { server, timers, delivered, stream } = setup();
  await stream.start();
  server.emit("a");
  await flush();
  const oldTopic = stream.topic;
  server.rotate(false, true); // the poke is lost on the wire
  server.emit("b"); // broadcast on the new topic only: the stream does not hear it
  await flush(10);
  assert.equal(stream.topic, oldTopic);
  assert.equal(stream.rekeys, 0);
  assert.deepEqual(delivered, [1]);
  await timers.advance(30_000); // one heartbeat interval
  await flush(10);
  assert.equal(stream.rekeys, 1);
  assert.equal(stream.topic, server.topic);
  assert.deepEqual(server.openLinks().map((l) => l.topic), [server.topic]);
  assert.deepEqual(delivered, [1, 2]);
  server.emit("c"); // live again on the new topic
  await flush();
  assert.deepEqual(delivered, [1, 2, 3]);
  assert.equal(stream.liveDelivered >= 2, true);
  await stream.stop();
});

Deno.test("a forged broadcast ahead of the log is discarded: the log wins", async () => {
  const { server, delivered, stream } = setup();
  await stream.start();
  server.emit("a");
  server.send({ sessionId: SID, seq: 99, type: "session_ended", timestamp: "x" });
  server.send({ sessionId: "someone-else", seq: 2, type: "x", timestamp: "x" });
  await flush(10);
  assert.deepEqual(delivered, [1]);
  assert.equal(stream.discardedBroadcasts, 1);
  assert.equal(stream.lastSeq, 1);
  server.emit("b");
  await flush();
  assert.deepEqual(delivered, [1, 2]);
  await stream.stop();
});

Deno.test("a rekey poke: followTopic joins the new topic at once and catches up (no heartbeat, no backoff)", async () => {
  const { server, delivered, stream, statuses } = setup();
  await stream.start();
  server.emit("a");
  const oldTopic = server.topic;
  server.rotate();
  server.emit("player_left", {}, true); // on the new topic, before we joined it
  await flush(10);
  assert.equal(stream.rekeys, 1);
  assert.notEqual(stream.topic, oldTopic);
  assert.equal(stream.topic, server.topic);
  assert.deepEqual(server.openLinks().map((l) => l.topic), [server.topic]);
  assert.equal(server.heartbeats, 1);
  assert.deepEqual(delivered, [1, 2]);
  assert.ok(!statuses.includes("reconnecting"));
  // followTopic with the current topic (what a heartbeat naming the generation would do) is a no-op
  stream.followTopic(server.topic);
  await flush();
  assert.equal(stream.rekeys, 1);
  // ... with another one, it re-reads and moves
  stream.followTopic("session:elsewhere");
  await flush(10);
  assert.equal(stream.rekeys, 2);
  await stream.stop();
});

Deno.test("removed: the rekey's topic re-read is refused, the stream stops and says why", async () => {
  const { server, timers, stream, removed } = setup();
  await stream.start();
  server.rotate(true);
  await flush(10);
  assert.equal(removed.length, 1);
  assert.equal((removed[0] as { details: string }).details, "kicked");
  assert.equal(stream.status, "disconnected");
  assert.equal(stream.stopped, true);
  assert.equal(server.openLinks().length, 0);
  const beats = server.heartbeats;
  await timers.advance(120_000);
  assert.equal(server.heartbeats, beats, "no heartbeats after removal");
  assert.equal(server.links.length, 1, "no rejoin after removal");
});

Deno.test("a lost channel: reconnecting with backoff, then connected and caught up", async () => {
  const { server, timers, delivered, stream, statuses } = setup();
  await stream.start();
  server.openLinks()[0].handlers.onTrouble("channel CHANNEL_ERROR");
  await flush();
  assert.equal(stream.status, "reconnecting");
  assert.deepEqual(timers.timeouts(), [2000]);
  server.emit("while away", {}, false);
  await timers.advance(1999);
  assert.equal(stream.status, "reconnecting");
  await timers.advance(1);
  assert.equal(stream.status, "connected");
  assert.equal(stream.reconnects, 1);
  assert.equal(server.heartbeats, 2, "a reconnect starts with a heartbeat (it restores the seat)");
  assert.deepEqual(delivered, [1]);
  assert.deepEqual(statuses, ["connecting", "connected", "reconnecting", "connected"]);
  await stream.stop();
});

Deno.test("after 5 failed attempts the stream is disconnected until reconnectNow()", async () => {
  const { server, timers, stream } = setup();
  await stream.start();
  server.refuseJoins = 100;
  server.openLinks()[0].handlers.onTrouble("socket closed");
  await flush();
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    waits.push(...timers.timeouts());
    await timers.advance(timers.timeouts()[0]);
  }
  assert.deepEqual(waits, [2000, 4000, 8000, 16000, 30000]);
  assert.equal(stream.status, "disconnected");
  assert.deepEqual(timers.timeouts(), []);
  server.refuseJoins = 0;
  server.emit("meanwhile", {}, false);
  stream.reconnectNow();
  await flush(10);
  assert.equal(stream.status, "connected");
  assert.equal(stream.lastSeq, 1);
  await stream.stop();
});

Deno.test("a stranger is refused at the first heartbeat: removed, never joined", async () => {
  const { server, stream, removed } = setup();
  server.removed = "left";
  await assert.rejects(() => stream.start());
  assert.equal(removed.length, 1);
  assert.equal(server.links.length, 0);
  assert.equal(stream.status, "disconnected");
});
