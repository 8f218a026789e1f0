// The session stream of the player's web client: the same protocol as the Python SDK's
// SessionConnection (seer_client/connection.py; docs/contract.md, docs/security.md).
//
// * Events come from the database only: each is broadcast whole on the session's private keyed
//   topic `session:<id>:<key>` (read with the `session_topic` RPC) and stored in the log
//   (`session_events_since`). A live event is delivered when it is the next seq; anything ahead
//   (a lost broadcast, a gap) makes the stream read the log after its last delivered seq, so every
//   event is delivered once and in seq order, and the log wins.
// * A removal rotates the key and sends `{sessionId, seq, type: "rekey"}` on the old topic: the
//   stream re-reads the topic (followTopic), joins the new one and catches up. A removed player's
//   re-read is refused (SESSION_006, details kicked/left): the stream stops and says why.
// * `heartbeat` every 30 s keeps the seat connected (and restores a disconnected one on connect);
//   its `lastSeq` reveals a lost last broadcast.
// * A lost channel is rejoined with the PRD's backoff min(1000 * 2^n, 30000) ms (up to 10 % less,
//   at random), at most 5 attempts; then the stream reports "disconnected" until reconnectNow().
//
// Classic script (no import/export), so the page can load it with a nonce and the unit tests can
// import it: it defines globalThis.SeerProtocol. It knows nothing about supabase-js: app.js passes
// an `api` (the RPCs) and a `realtime` (join a channel) built on supabase-js.
(function (root) {
  "use strict";

  const HEARTBEAT_MS = 30_000;
  const BACKOFF_BASE_MS = 1_000;
  const BACKOFF_MAX_MS = 30_000;
  const BACKOFF_JITTER = 0.1;
  const MAX_RECONNECT_ATTEMPTS = 5;
  const PAGE_SIZE = 500;
  const IDLE_FETCH_PAUSE_MS = 250;
  const MAX_HINTS = 1024;
  const REKEY = "rekey";
  const REKEY_KEYS = new Set(["sessionId", "seq", "type", "id"]);

  /** Milliseconds before reconnect attempt `attempt` (1-based): 2, 4, 8, 16, 30 s, minus jitter. */
  function backoffDelay(attempt, random = Math.random) {
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(1, attempt));
    return delay * (1 - random() * BACKOFF_JITTER);
  }

  /** An RPC's error, as PostgREST sends it ({code, message, details}); transport errors have no code. */
  class RpcError extends Error {
    constructor(code, message, details, status) {
      super(message || code || "request failed");
      this.name = "RpcError";
      this.code = code || null;
      this.details = details ?? null;
      this.status = status ?? null;
    }
  }

  /** True for an answer meaning "you are not (or no longer) in this session". */
  function isRemoval(err) {
    return err instanceof RpcError && (err.code === "SESSION_006" || err.code === "SESSION_001");
  }

  /** True for an error the server gave on purpose (retrying the same call will not help). */
  function isServerRefusal(err) {
    return err instanceof RpcError && typeof err.code === "string" &&
      (err.code.startsWith("SESSION_") || err.code.startsWith("PGRST") || /^[0-9A-Z]{5}$/.test(err.code));
  }

  function isSeq(value) {
    return Number.isInteger(value) && value >= 0 && value <= 2 ** 53;
  }

  /** `{seq, type}` of a well-formed broadcast (event or rekey poke) for this session, else null. */
  function pokeOf(data, sessionId) {
    if (data === null || typeof data !== "object" || Array.isArray(data)) return null;
    if (!isSeq(data.seq)) return null;
    if (typeof data.type !== "string" || data.type.length === 0 || data.type.length > 64) return null;
    if (data.sessionId !== sessionId) return null;
    return { seq: data.seq, type: data.type };
  }

  /** The event without Realtime's message id (the log's form). */
  function eventOf(data) {
    const event = {};
    for (const [key, value] of Object.entries(data)) if (key !== "id") event[key] = value;
    return event;
  }

  const defaultTimers = {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id),
    setInterval: (fn, ms) => setInterval(fn, ms),
    clearInterval: (id) => clearInterval(id),
  };

  /**
   * One session's live stream. Options:
   *   sessionId, startSeq (deliver events after this seq),
   *   api: { heartbeat(), sessionTopic(), eventsSince(afterSeq, limit) } (async; throw RpcError),
   *   realtime: { join(topic, {onBroadcast, onPresence, onTrouble}) -> Promise<{track(p), close()}> },
   *   presence: () => object (the presence payload, tracked after every join),
   *   onEvent(event), onStatus(status), onRemoved(err), onError(err), onPresence(keys),
   *   onHeartbeat(beat), timers, random, heartbeatMs.
   * Status: "connecting", "connected", "reconnecting", "disconnected".
   */
  class SessionStream {
    constructor(options) {
      this.options = options;
      this.sessionId = options.sessionId;
      this.timers = options.timers ?? defaultTimers;
      this.random = options.random ?? Math.random;
      this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
      this.status = "disconnected";
      this.topic = null;
      this.generation = null; // the channel generation of this.topic (session_topic)
      this.stopped = false;
      this.removed = null;
      this.error = null;
      // counters (shown on the page as data attributes, read by the tests)
      this.connects = 0;
      this.reconnects = 0;
      this.rekeys = 0;
      this.liveDelivered = 0;
      this.recovered = 0;
      this.gapsDetected = 0;
      this.discardedBroadcasts = 0;
      this.ignoredBroadcasts = 0;
      this._last = options.startSeq ?? 0;
      this._wanted = this._last;
      this._hints = new Map();
      this._link = null;
      this._pendingTrouble = null;
      this._watcher = null;
      this._fetching = false;
      this._catchUpTail = Promise.resolve();
      this._heartbeatTimer = null;
      this._wake = null;
      this._supervisor = null;
    }

    /** The seq of the last delivered event. */
    get lastSeq() {
      return this._last;
    }

    /** Connects and keeps the stream up until stop(); resolves once the first connection stands. */
    start() {
      if (this._supervisor) throw new Error("SessionStream.start() called twice");
      const first = new Promise((resolve, reject) => {
        this._firstConnected = { resolve, reject };
      });
      first.catch(() => {});
      this._supervisor = this._supervise();
      this._heartbeatTimer = this.timers.setInterval(() => this._beat(), this.heartbeatMs);
      return first;
    }

    /** Leaves the channel and stops heartbeats and reconnects. */
    async stop() {
      if (this.stopped) return;
      this.stopped = true;
      this._clearHeartbeat();
      this._trouble("stopped");
      if (this._wake) this._wake();
      await this._teardown();
      this._setStatus("disconnected");
    }

    /**
     * Re-reads the session's topic and moves to it: after a rekey poke, or (`knownTopic` given, e.g.
     * from a heartbeat that names the channel's current generation) only when it differs from ours.
     */
    followTopic(knownTopic) {
      if (this.stopped) return;
      if (knownTopic !== undefined && knownTopic === this.topic) return;
      this._trouble(REKEY);
    }

    /** After the stream gave up (or the browser came back online): try again now. */
    reconnectNow() {
      if (this.stopped || this.removed) return;
      if (this._wake) {
        this._wake();
        return;
      }
      if (this.status === "disconnected" && this._supervisor) {
        this._supervisor = this._supervise();
      }
    }

    // ---------------------------------------------------------------- supervisor
    async _supervise() {
      let attempt = 0;
      let rekeyed = false;
      while (!this.stopped) {
        try {
          this._pendingTrouble = null;
          await this._establish(rekeyed);
        } catch (err) {
          await this._teardown();
          if (this.stopped) return;
          if (isRemoval(err) || (isServerRefusal(err) && this.connects === 0)) {
            // Not (or no longer) a participant: reconnecting cannot help.
            this._remove(err);
            return;
          }
          this.error = err;
          this._report(err);
          attempt += 1;
          if (!(await this._backoff(attempt))) return;
          continue;
        }
        if (rekeyed) this.rekeys += 1;
        else if (this.connects > 0) this.reconnects += 1;
        this.connects += 1;
        attempt = 0;
        rekeyed = false;
        this.error = null;
        this._setStatus("connected");
        if (this._firstConnected) this._firstConnected.resolve();
        const reason = await this._watch();
        await this._teardown();
        if (this.stopped) return;
        if (reason === REKEY) {
          rekeyed = true; // not a failure: join the new topic at once
          continue;
        }
        attempt += 1;
        if (!(await this._backoff(attempt))) return;
      }
    }

    /** Waits before the next attempt; false when the attempts are used up (status disconnected). */
    async _backoff(attempt) {
      if (attempt > MAX_RECONNECT_ATTEMPTS) {
        this._setStatus("disconnected");
        if (this._firstConnected) this._firstConnected.reject(this.error ?? new Error("could not connect"));
        this._firstConnected = null;
        // reconnectNow() starts a new supervisor
        return false;
      }
      this._setStatus(this.connects > 0 ? "reconnecting" : "connecting");
      await new Promise((resolve) => {
        const id = this.timers.setTimeout(() => {
          this._wake = null;
          resolve();
        }, backoffDelay(attempt, this.random));
        this._wake = () => {
          this.timers.clearTimeout(id);
          this._wake = null;
          resolve();
        };
      });
      return !this.stopped;
    }

    async _establish(rekey) {
      const { api, realtime } = this.options;
      if (this.status !== "reconnecting") this._setStatus("connecting");
      if (!rekey) {
        // heartbeat restores a disconnected seat and refuses strangers before we join anything.
        // (After a rekey the seat is live: session_topic alone tells a removed player apart.)
        this._noteHeartbeat(await api.heartbeat(), false);
      }
      // session_topic answers {topic, generation}: the generation counts the key's rotations, and
      // a heartbeat naming a newer one means a rekey poke was lost (docs/contract.md).
      const { topic, generation } = await api.sessionTopic();
      this.topic = topic;
      this.generation = Number.isInteger(generation) ? generation : null;
      const link = await realtime.join(topic, {
        onBroadcast: (data) => {
          if (this._link === link) this._onBroadcast(data);
        },
        onPresence: (keys) => {
          if (this._link === link && this.options.onPresence) this.options.onPresence(keys);
        },
        onTrouble: (reason) => {
          if (this._link === link) this._trouble(reason);
        },
      });
      this._link = link;
      if (this.stopped) return;
      if (this.options.presence) {
        try {
          await link.track(this.options.presence());
        } catch (err) {
          this._report(err); // presence proves nothing; the seat status is the truth
        }
      }
      await this._catchUp();
    }

    _watch() {
      if (this._pendingTrouble !== null) return Promise.resolve(this._pendingTrouble);
      return new Promise((resolve) => {
        this._watcher = resolve;
      });
    }

    _trouble(reason) {
      if (this._watcher) {
        const watcher = this._watcher;
        this._watcher = null;
        watcher(reason);
      } else if (this._pendingTrouble === null || reason === REKEY) {
        this._pendingTrouble = reason;
      }
    }

    async _teardown() {
      const link = this._link;
      this._link = null;
      if (link) {
        try {
          await link.close();
        } catch (err) {
          this._report(err);
        }
      }
    }

    _remove(err) {
      this.removed = err;
      this.stopped = true;
      this._clearHeartbeat();
      this._setStatus("disconnected");
      if (this._firstConnected) this._firstConnected.reject(err);
      this._firstConnected = null;
      if (this.options.onRemoved) this.options.onRemoved(err);
    }

    _clearHeartbeat() {
      if (this._heartbeatTimer !== null) this.timers.clearInterval(this._heartbeatTimer);
      this._heartbeatTimer = null;
    }

    _setStatus(status) {
      if (status === this.status) return;
      this.status = status;
      if (this.options.onStatus) this.options.onStatus(status);
    }

    _report(err) {
      if (this.options.onError) this.options.onError(err);
    }

    // ---------------------------------------------------------------- heartbeat
    async _beat() {
      if (this.stopped || this.status !== "connected") return;
      let beat;
      try {
        beat = await this.options.api.heartbeat();
      } catch (err) {
        if (this.stopped) return;
        if (isRemoval(err)) {
          await this._teardown();
          this._remove(err);
        } else if (isServerRefusal(err)) {
          this._report(err);
        } else {
          this._report(err);
          this._trouble(`heartbeat failed: ${err && err.message}`);
        }
        return;
      }
      this._noteHeartbeat(beat, true);
    }

    _noteHeartbeat(beat, fetch) {
      if (this.options.onHeartbeat) this.options.onHeartbeat(beat);
      if (
        fetch && beat && Number.isInteger(beat.channelGeneration) && this.generation !== null &&
        beat.channelGeneration > this.generation
      ) {
        // The key was rotated and its poke lost: we are on a stale topic. Follow it now (the
        // catch-up on the new topic also covers the lastSeq check below).
        this.followTopic();
        return;
      }
      if (fetch && beat && isSeq(beat.lastSeq) && beat.lastSeq > this._last) {
        // The log is ahead of us: a broadcast was lost (the tail loss no later event shows).
        this._want(beat.lastSeq);
      }
    }

    // ---------------------------------------------------------------- inbound
    _onBroadcast(data) {
      const poke = pokeOf(data, this.sessionId);
      if (poke === null) {
        this.ignoredBroadcasts += 1;
        return;
      }
      if (poke.type === REKEY && Object.keys(data).every((k) => REKEY_KEYS.has(k))) {
        // The key was rotated (someone was removed): follow it; the catch-up covers its seq.
        this.followTopic();
        return;
      }
      if (poke.seq <= this._last) return; // already delivered
      if (poke.seq === this._last + 1 && typeof data.timestamp === "string") {
        this._hints.delete(poke.seq);
        this.liveDelivered += 1;
        this._deliver(eventOf(data));
        return;
      }
      // Ahead of what we have: the log decides.
      this._hints.set(poke.seq, true);
      while (this._hints.size > MAX_HINTS) this._hints.delete(this._hints.keys().next().value);
      if (poke.seq > this._last + 1 && poke.seq > this._wanted + 1) this.gapsDetected += 1;
      this._want(poke.seq);
    }

    _deliver(event) {
      this._last = event.seq;
      this._wanted = Math.max(this._wanted, event.seq);
      try {
        if (this.options.onEvent) this.options.onEvent(event);
      } catch (err) {
        this._report(err);
      }
    }

    _want(seq) {
      this._wanted = Math.max(this._wanted, seq);
      if (this._fetching || this.stopped) return;
      this._fetchLoop();
    }

    async _fetchLoop() {
      this._fetching = true;
      let idle = false;
      try {
        while (this._wanted > this._last && !this.stopped) {
          if (idle) await new Promise((r) => this.timers.setTimeout(r, IDLE_FETCH_PAUSE_MS));
          const wanted = this._wanted;
          const got = await this._catchUp();
          if (got === 0 && this._last < wanted) {
            // The log does not have what was announced: forged or misdirected. The log wins.
            for (const seq of [...this._hints.keys()]) if (seq > this._last) this._hints.delete(seq);
            if (this._wanted <= wanted) this._wanted = this._last;
            this.discardedBroadcasts += 1;
            idle = true;
          } else {
            idle = false;
          }
        }
      } catch (err) {
        if (isRemoval(err)) {
          // session_events_since says SESSION_001 to outsiders; heartbeat tells a former
          // participant apart (SESSION_006 kicked/left), the more useful answer.
          let precise = err;
          try {
            await this.options.api.heartbeat();
          } catch (beatErr) {
            if (isRemoval(beatErr)) precise = beatErr;
          }
          await this._teardown();
          this._remove(precise);
        } else {
          this._report(err);
        }
      } finally {
        this._fetching = false;
      }
    }

    /** Reads every event after the last delivered one from the log; returns how many. */
    _catchUp() {
      const run = this._catchUpTail.then(() => this._catchUpOnce());
      this._catchUpTail = run.catch(() => {});
      return run;
    }

    async _catchUpOnce() {
      let fetched = 0;
      for (;;) {
        const before = this._last;
        const page = await this.options.api.eventsSince(before, PAGE_SIZE);
        for (const event of page) {
          if (!isSeq(event.seq) || event.seq <= this._last || event.sessionId !== this.sessionId) continue;
          if (!this._hints.delete(event.seq)) this.recovered += 1; // no broadcast announced it
          fetched += 1;
          this._deliver(event);
        }
        if (page.length < PAGE_SIZE || this._last === before) return fetched;
      }
    }
  }

  root.SeerProtocol = {
    HEARTBEAT_MS,
    MAX_RECONNECT_ATTEMPTS,
    PAGE_SIZE,
    RpcError,
    SessionStream,
    backoffDelay,
    isRemoval,
    isServerRefusal,
    pokeOf,
  };
})(globalThis);
