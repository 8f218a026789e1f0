// The player's web client behind the invite link (docs/invite.md): sign in or sign up, pick or
// create a character, join, then the live lobby and the game view. It runs on the preview page the
// function renders (the #seer-app section); the preview itself is server-rendered and works without
// it. Talks to Supabase only through supabase-js (static/supabase-js-*.umd.js, window.supabase)
// and the RPCs of docs/contract.md; the live stream is SeerProtocol.SessionStream (protocol.js).
//
// Every piece of text from the server goes into the page with textContent (never innerHTML), and
// the page's CSP allows no inline script and no other origin.
(function () {
  "use strict";

  const mount = document.getElementById("seer-app");
  if (!mount) return;
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.getAttribute("content") ?? "";
  const API_URL = meta("seer-api-url");
  const ANON_KEY = meta("seer-anon-key");
  const JOIN_HREF = meta("seer-join-href") || "./";
  const CODE = mount.dataset.code;
  const { RpcError, SessionStream, MAX_RECONNECT_ATTEMPTS } = globalThis.SeerProtocol;

  const supabase = globalThis.supabase.createClient(API_URL, ANON_KEY, {
    auth: {
      persistSession: true,
      autoRefreshToken: true,
      detectSessionInUrl: false,
      storageKey: "seer-invite-auth",
    },
    // Realtime's own socket reconnects follow the PRD's schedule too (the stream rejoins the channel).
    realtime: { reconnectAfterMs: (tries) => Math.min(1000 * 2 ** tries, 30_000) },
  });

  // ------------------------------------------------------------------ small helpers
  /** el("p", {testid, className, text, attrs, on}, ...children): text only, never HTML. */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    if (props.className) node.className = props.className;
    if (props.testid) node.dataset.testid = props.testid;
    if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
    for (const [key, value] of Object.entries(props.attrs ?? {})) {
      if (value === false || value === null || value === undefined) continue;
      node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const [event, handler] of Object.entries(props.on ?? {})) node.addEventListener(event, handler);
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function show(...nodes) {
    mount.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined && n !== false));
  }

  function rpcError(error, status) {
    return new RpcError(error.code || null, error.message || String(error), error.details ?? null, status);
  }

  async function rpc(name, args = {}) {
    const { data, error, status } = await supabase.rpc(name, args);
    if (error) throw rpcError(error, status);
    return data;
  }

  function errorText(err) {
    if (err instanceof RpcError && err.code) return `${err.message} (${err.code})`;
    return err && err.message ? err.message : String(err);
  }

  function message(testid, text, isError = true) {
    return el("p", {
      className: isError ? "msg error" : "msg",
      testid,
      text,
      attrs: { role: isError ? "alert" : null },
    });
  }

  const seqKey = (sessionId) => `seer-invite:seq:${sessionId}`;
  function storedSeq(sessionId) {
    const raw = localStorage.getItem(seqKey(sessionId));
    const value = raw === null ? NaN : Number(raw);
    return Number.isInteger(value) && value >= 0 ? value : null;
  }

  // ------------------------------------------------------------------ sign in / sign up
  function renderAuth(note) {
    const email = el("input", {
      testid: "auth-email",
      attrs: { type: "email", required: true, autocomplete: "email" },
    });
    const password = el("input", {
      testid: "auth-password",
      attrs: { type: "password", required: true, minlength: 6, autocomplete: "current-password" },
    });
    const name = el("input", {
      testid: "auth-display-name",
      attrs: { autocomplete: "nickname", maxlength: 60 },
    });
    const status = el("div");
    let busy = false;
    const run = async (signUp) => {
      if (busy) return;
      if (!email.reportValidity() || !password.reportValidity()) return;
      busy = true;
      status.replaceChildren(
        message("auth-progress", signUp ? "Creating your account…" : "Signing in…", false),
      );
      const credentials = { email: email.value.trim(), password: password.value };
      const { data, error } = signUp
        ? await supabase.auth.signUp({
          ...credentials,
          options: { data: name.value.trim() ? { display_name: name.value.trim() } : {} },
        })
        : await supabase.auth.signInWithPassword(credentials);
      busy = false;
      if (error) {
        status.replaceChildren(message("auth-error", error.message));
      } else if (!data.session) {
        status.replaceChildren(
          message("auth-error", "Check your email to confirm your account, then sign in.", false),
        );
      } else {
        afterSignIn();
      }
    };
    const form = el(
      "form",
      { testid: "auth-form", on: { submit: (e) => (e.preventDefault(), run(false)) } },
      el("label", { className: "field", text: "Email" }, email),
      el("label", { className: "field", text: "Password" }, password),
      el("label", { className: "field", text: "Name (new accounts)" }, name),
      el(
        "div",
        { className: "row" },
        el("button", {
          className: "btn primary",
          testid: "sign-in",
          text: "Sign in",
          attrs: { type: "submit" },
        }),
        el("button", {
          className: "btn",
          testid: "sign-up",
          text: "Create account",
          attrs: { type: "button" },
          on: { click: () => run(true) },
        }),
      ),
    );
    show(
      el("h2", { text: "Play in your browser" }),
      note ? message("auth-note", note, false) : null,
      form,
      status,
    );
  }

  async function afterSignIn() {
    show(message("app-loading", "Loading…", false));
    try {
      const mine = await rpc("list_my_sessions", { p_status: ["waiting", "active", "paused"] });
      const seat = (mine ?? []).find((s) => s.code === CODE);
      if (seat && seat.role === "seer") {
        show(
          el("h2", { text: "You are this session's Seer" }),
          el("p", {
            className: "sub",
            testid: "seer-notice",
            text: "Run the session from the Seer's tools.",
          }),
          signOutButton(),
        );
        return;
      }
      if (seat) return enterSession(seat.id);
      await renderPicker();
    } catch (err) {
      show(message("app-error", errorText(err)), signOutButton());
    }
  }

  function signOutButton() {
    return el("button", {
      className: "btn",
      testid: "sign-out",
      text: "Sign out",
      attrs: { type: "button" },
      on: {
        click: async () => {
          await supabase.auth.signOut();
          renderAuth();
        },
      },
    });
  }

  // ------------------------------------------------------------------ character picker, join
  async function renderPicker() {
    let found;
    try {
      found = await rpc("get_session_by_code", { p_code: CODE });
    } catch (err) {
      show(message("join-error", errorText(err)), signOutButton());
      return;
    }
    const sessionId = found.session.id;
    const characters = await rpc("list_my_characters");
    const user = (await supabase.auth.getUser()).data.user;
    let chosen = null;
    const joinButton = el("button", {
      className: "btn primary",
      testid: "join-session",
      text: "Join session",
      attrs: { type: "button", disabled: true },
    });
    const status = el("div");
    const list = el("ul", { className: "list", testid: "character-list" });
    const choose = (id) => {
      chosen = id;
      for (const button of list.querySelectorAll("button")) {
        button.setAttribute("aria-pressed", String(button.dataset.characterId === id));
      }
      joinButton.disabled = !found.canJoin || chosen === null;
    };
    const addCharacter = (c) => {
      const busyElsewhere = c.activeSessionId && c.activeSessionId !== sessionId;
      const button = el(
        "button",
        {
          className: "btn",
          testid: `character-${c.id}`,
          attrs: { type: "button", "aria-pressed": "false", disabled: busyElsewhere },
          on: { click: () => choose(c.id) },
        },
        el("span", { className: "who", text: c.name }),
        el("span", { className: "sub", text: ` ${c.class} · level ${c.level}` }),
      );
      button.dataset.characterId = c.id;
      list.append(
        el(
          "li",
          {},
          button,
          busyElsewhere ? el("span", { className: "sub", text: "in another session" }) : null,
        ),
      );
    };
    (characters ?? []).forEach(addCharacter);

    const newName = el("input", { testid: "new-character-name", attrs: { maxlength: 60, required: true } });
    const newClass = el("input", { testid: "new-character-class", attrs: { maxlength: 40, required: true } });
    newClass.value = "Adventurer";
    const createForm = el(
      "form",
      {
        testid: "create-character-form",
        on: {
          submit: async (e) => {
            e.preventDefault();
            if (!newName.reportValidity() || !newClass.reportValidity()) return;
            try {
              const c = await rpc("create_character", { p_name: newName.value, p_class: newClass.value });
              addCharacter(c);
              choose(c.id);
              newName.value = "";
              status.replaceChildren();
            } catch (err) {
              status.replaceChildren(message("character-error", errorText(err)));
            }
          },
        },
      },
      el("label", { className: "field", text: "New character's name" }, newName),
      el("label", { className: "field", text: "Class" }, newClass),
      el("button", {
        className: "btn",
        testid: "create-character",
        text: "Create character",
        attrs: { type: "submit" },
      }),
    );

    joinButton.addEventListener("click", async () => {
      if (!chosen) return;
      joinButton.disabled = true;
      status.replaceChildren(message("join-progress", "Joining…", false));
      try {
        const joined = await rpc("join_session", { p_session_id: sessionId, p_character_id: chosen });
        await enterSession(sessionId, joined.session);
      } catch (err) {
        if (err.code === "SESSION_008") return enterSession(sessionId); // already seated
        joinButton.disabled = false;
        status.replaceChildren(message("join-error", errorText(err)));
      }
    });

    show(
      el(
        "div",
        { className: "bar" },
        el("span", { className: "sub", testid: "signed-in-as", text: `Signed in as ${user?.email ?? ""}` }),
        signOutButton(),
      ),
      el("h2", { text: "Choose your character" }),
      found.canJoin
        ? null
        : message("cannot-join", found.reason ?? "This session cannot be joined right now."),
      list,
      (characters ?? []).length === 0
        ? el("p", { className: "sub", text: "You have no characters yet." })
        : null,
      createForm,
      el("div", { className: "row" }, joinButton),
      status,
    );
  }

  // ------------------------------------------------------------------ the session
  const STATUS_LABELS = {
    waiting: "Waiting for players",
    active: "In progress",
    paused: "Paused",
    completed: "Ended",
    cancelled: "Cancelled",
  };
  const CONNECTION_LABELS = {
    connecting: "Connecting…",
    connected: "Connected",
    reconnecting: "Reconnecting…",
    disconnected: "Disconnected",
  };
  const SEAT_LABELS = {
    connected: "online",
    disconnected: "reconnecting…",
    inactive: "away (the Seer plays)",
  };

  /** The client's view of one session: a snapshot (get_session) with events applied on top. */
  function stateOf(session, userId) {
    const seats = new Map();
    for (const p of session.players ?? []) seats.set(p.id, { ...p });
    return {
      id: session.id,
      userId,
      seerId: session.seerId,
      seerName: session.seerName,
      title: session.adventureName,
      description: session.adventureDescription,
      status: session.status,
      node: session.currentNode,
      combat: session.gameState?.combatState ?? null,
      seats,
      dice: [],
      stats: session.stats,
      presence: new Set(),
    };
  }

  function seatName(state, playerId) {
    const seat = state.seats.get(playerId);
    if (!seat) return "A player";
    return seat.character?.name
      ? `${seat.displayName ?? "A player"} (${seat.character.name})`
      : seat.displayName;
  }

  /** Applies one event to the view; events already in the snapshot are only logged. */
  function apply(state, e) {
    switch (e.type) {
      case "player_joined":
        state.seats.set(e.player.id, { ...e.player });
        break;
      case "player_left": {
        const seat = state.seats.get(e.playerId);
        const running = state.status === "active" || state.status === "paused";
        if (seat && e.reason === "left" && running && seat.status !== "inactive") {
          seat.status = "inactive"; // a leave in a running game keeps the seat (docs/contract.md)
        } else {
          state.seats.delete(e.playerId);
        }
        break;
      }
      case "player_connection": {
        const seat = state.seats.get(e.playerId);
        if (seat) seat.status = e.status ?? (e.isConnected ? "connected" : "disconnected");
        break;
      }
      case "player_inactive": {
        const seat = state.seats.get(e.playerId);
        if (seat) seat.status = "inactive";
        break;
      }
      case "session_status":
        state.status = e.newStatus;
        break;
      case "session_ended":
        state.status = e.outcome === "cancelled" ? "cancelled" : "completed";
        state.stats = e.stats;
        break;
      case "node_change":
        state.node = {
          id: e.nodeId,
          title: e.nodeTitle,
          type: e.nodeType,
          body: e.nodeBody,
          choices: e.choices ?? [],
        };
        break;
      case "dice_rolled":
        state.dice.unshift(e);
        state.dice.length = Math.min(state.dice.length, 10);
        break;
      case "combat_started":
        state.combat = e.combatState;
        break;
      case "combat_turn":
        if (state.combat) Object.assign(state.combat, { round: e.round, turn: e.turn, current: e.current });
        break;
      case "combat_ended":
        state.combat = null;
        break;
    }
  }

  function rollText(state, r) {
    const who = r.characterId
      ? [...state.seats.values()].find((s) => s.characterId === r.characterId)?.character?.name ??
        "A character"
      : r.rollerId === state.seerId
      ? state.seerName ?? "The Seer"
      : "Someone";
    const result = r.hidden || r.total === null ? "rolled in secret" : `rolled ${r.expression} = ${r.total}`;
    return `${who} ${result}${r.reason ? ` (${r.reason})` : ""}`;
  }

  function describe(state, e) {
    switch (e.type) {
      case "player_joined":
        return `${e.player.displayName ?? "A player"} joined as ${e.player.character?.name ?? "a character"}`;
      case "player_left":
        return `${seatName(state, e.playerId)} ${
          e.reason === "kicked" ? "was removed" : e.reason === "disconnected" ? "lost their seat" : "left"
        }`;
      case "player_connection":
        return `${seatName(state, e.playerId)} ${e.isConnected ? "is back" : "disconnected"}`;
      case "player_inactive":
        return `${seatName(state, e.playerId)} is away; the Seer plays ${
          e.characterName ?? "their character"
        }`;
      case "session_status":
        return `Session ${STATUS_LABELS[e.newStatus]?.toLowerCase() ?? e.newStatus}`;
      case "session_ended":
        return `The session ended (${e.outcome})`;
      case "node_change":
        return `Scene: ${e.nodeTitle}`;
      case "dice_rolled":
        return rollText(state, e);
      case "combat_started":
        return "Combat begins";
      case "combat_turn":
        return `Round ${e.round}: ${e.current?.name ?? "next"}'s turn`;
      case "combat_ended":
        return `Combat over: ${e.outcome}`;
      case "player_action":
        return `${e.characterName ?? "A character"}: ${e.choice ? `chose “${e.choice.label}”` : e.text}${
          e.choice && e.text ? ` – ${e.text}` : ""
        }`;
      case "game_state":
        return "The Seer updated the game";
      default:
        return e.type;
    }
  }

  let current = null; // { stream, state, ... } of the session on screen

  async function enterSession(sessionId, snapshot) {
    show(message("app-loading", "Opening the session…", false));
    const user = (await supabase.auth.getUser()).data.user;
    let session;
    try {
      session = snapshot ?? await rpc("get_session", { p_session_id: sessionId });
    } catch (err) {
      show(message("app-error", errorText(err)), signOutButton());
      return;
    }
    const state = stateOf(session, user.id);
    try {
      for (const r of (await rpc("list_dice_rolls", { p_session_id: sessionId, p_limit: 10 })) ?? []) {
        state.dice.unshift(r);
      }
    } catch { /* the dice list is a nicety */ }
    // Events up to the snapshot's lastSeq are already in it; ones after our stored seq are shown in
    // the log (what happened while this page was closed), exactly once and in order.
    const stored = storedSeq(sessionId);
    const snapshotSeq = session.lastSeq;
    const startSeq = stored !== null && stored <= snapshotSeq ? stored : snapshotSeq;
    document.body.classList.add("in-session");
    document.querySelector("main[data-testid=session-preview]")?.remove();
    const view = buildSessionView(state);
    show(view.root);

    const stream = new SessionStream({
      sessionId,
      startSeq,
      api: {
        heartbeat: () => rpc("heartbeat", { p_session_id: sessionId }),
        sessionTopic: () => rpc("session_topic", { p_session_id: sessionId }), // {topic, generation}
        eventsSince: (after, limit) =>
          rpc("session_events_since", { p_session_id: sessionId, p_after_seq: after, p_limit: limit }),
      },
      realtime: supabaseRealtime(user.id),
      presence: () => {
        const mine = [...state.seats.values()].find((s) => s.userId === user.id);
        return {
          user_id: user.id,
          online_at: new Date().toISOString(),
          player_id: mine?.id ?? null,
          character_id: mine?.characterId ?? null,
          character_name: mine?.character?.name ?? null,
          role: "player",
          status: "online",
        };
      },
      onEvent: (e) => {
        if (e.seq > snapshotSeq) apply(state, e);
        view.log(e, describe(state, e), e.seq <= snapshotSeq);
        localStorage.setItem(seqKey(sessionId), String(e.seq));
        view.render();
      },
      onStatus: (status) => view.connection(status),
      onPresence: (keys) => {
        state.presence = new Set(keys);
        view.render();
      },
      onRemoved: (err) => removed(sessionId, err),
      onError: (err) => console.warn("seer: ", err),
    });
    current = { stream, state, view, sessionId };
    view.render();
    view.connection("connecting");
    try {
      await stream.start();
    } catch (err) {
      if (!stream.removed) view.problem(errorText(err));
    }
  }

  /** SeerProtocol's realtime port on supabase-js: one private channel per join. */
  function supabaseRealtime(userId) {
    return {
      join(topic, handlers) {
        return new Promise((resolve, reject) => {
          const channel = supabase.channel(topic, {
            config: { private: true, broadcast: { self: false, ack: false }, presence: { key: userId } },
          });
          channel.on("broadcast", { event: "*" }, (message) => handlers.onBroadcast(message.payload));
          channel.on(
            "presence",
            { event: "sync" },
            () => handlers.onPresence(Object.keys(channel.presenceState())),
          );
          let settled = false;
          const link = {
            track: (payload) => channel.track(payload),
            close: () => supabase.removeChannel(channel),
          };
          channel.subscribe((status, err) => {
            if (status === "SUBSCRIBED") {
              if (!settled) {
                settled = true;
                resolve(link);
              }
              return;
            }
            // CHANNEL_ERROR, TIMED_OUT, CLOSED: the stream replaces the channel (with backoff)
            const reason = `channel ${status}${err && err.message ? `: ${err.message}` : ""}`;
            if (!settled) {
              settled = true;
              supabase.removeChannel(channel);
              reject(new Error(reason));
            } else {
              handlers.onTrouble(reason);
            }
          });
        });
      },
    };
  }

  function removed(sessionId, err) {
    localStorage.removeItem(seqKey(sessionId));
    const kicked = err.details === "kicked";
    const left = err.details === "left";
    const text = kicked
      ? "The Seer removed you from this session."
      : left
      ? "You left this session."
      : "You are no longer in this session.";
    document.body.classList.remove("in-session");
    mount.dataset.stream = "stopped";
    show(
      el("h2", { text: kicked ? "Removed from the session" : "Not in this session" }),
      el("p", {
        className: "notice",
        testid: "removed-notice",
        text,
        attrs: { "data-reason": err.details ?? err.code ?? "unknown" },
      }),
      el("p", { className: "hint" }, el("a", { text: "Enter another code", attrs: { href: JOIN_HREF } })),
    );
  }

  /** The lobby / game view; render() refreshes everything but the action form and the log. */
  function buildSessionView(state) {
    const me = () => [...state.seats.values()].find((s) => s.userId === state.userId) ?? null;
    const statusBadge = el("span", { className: "badge", testid: "session-status-indicator" });
    const connection = el("span", { className: "badge status", testid: "connection-status" });
    const retry = el("button", {
      className: "btn",
      testid: "reconnect",
      text: "Reconnect",
      attrs: { type: "button", hidden: true },
      on: { click: () => current?.stream.reconnectNow() },
    });
    const problem = el("div");
    const lobby = el(
      "div",
      { testid: "session-lobby", attrs: { hidden: true } },
      el("h3", { text: "Lobby" }),
      el("p", { className: "sub", text: "Waiting for the Seer to start the game." }),
    );
    const nodeTitle = el("h2", { testid: "node-title" });
    const nodeText = el("p", { testid: "node-text" });
    const choices = el("div", { className: "choices", testid: "choices" });
    const pausedNote = el("p", {
      className: "notice",
      testid: "paused-notice",
      text: "The Seer paused the game.",
      attrs: { hidden: true },
    });
    // Back after the 5-minute window: the seat stays inactive (the Seer plays it) until the Seer
    // readmits it; join_session and heartbeat answered readmit: 'requested' and the Seer was asked.
    const readmitNote = el("p", {
      className: "notice",
      testid: "readmit-notice",
      text: "You were away too long: the Seer has been asked to let you back in. Please wait.",
      attrs: { hidden: true },
    });
    const myCharacter = el("p", { testid: "my-character" });
    const dice = el("ul", { className: "list", testid: "dice-rolls" });
    const turnOrder = el("ol", { className: "list", testid: "turn-order" });
    const combatBlock = el("div", { attrs: { hidden: true } }, el("h3", { text: "Turn order" }), turnOrder);
    const actionText = el("input", {
      testid: "action-text",
      attrs: { maxlength: 1000, placeholder: "What do you do?" },
    });
    const actionStatus = el("div");
    const sendAction = async (text, choice) => {
      try {
        await rpc("submit_action", { p_session_id: state.id, p_text: text, p_choice: choice });
        actionStatus.replaceChildren(message("action-sent", "Sent to the Seer.", false));
        if (text) actionText.value = "";
      } catch (err) {
        actionStatus.replaceChildren(message("action-error", errorText(err)));
      }
    };
    const actionForm = el(
      "form",
      {
        className: "row",
        testid: "action-form",
        on: {
          submit: (e) => {
            e.preventDefault();
            if (actionText.value.trim()) sendAction(actionText.value, null);
          },
        },
      },
      actionText,
      el("button", {
        className: "btn primary",
        testid: "submit-action",
        text: "Act",
        attrs: { type: "submit" },
      }),
    );
    const game = el(
      "div",
      { testid: "player-game-view", attrs: { hidden: true } },
      pausedNote,
      readmitNote,
      el("div", { className: "node" }, nodeTitle, nodeText, choices),
      actionForm,
      actionStatus,
      el("h3", { text: "Your character" }),
      myCharacter,
      combatBlock,
      el("h3", { text: "Dice" }),
      dice,
    );
    const ended = el("div", { testid: "session-ended", attrs: { hidden: true } });
    const players = el("ul", { className: "list", testid: "player-list" });
    const log = el("ol", { className: "list log", testid: "event-log" });
    const leave = el("button", {
      className: "btn",
      testid: "leave-session",
      text: "Leave session",
      attrs: { type: "button" },
      on: {
        click: async () => {
          leave.disabled = true;
          try {
            await rpc("leave_session", { p_session_id: state.id });
            await current?.stream.stop();
            removed(state.id, { details: "left" });
          } catch (err) {
            leave.disabled = false;
            problem.replaceChildren(message("leave-error", errorText(err)));
          }
        },
      },
    });
    const root = el(
      "div",
      { testid: "session-view" },
      el(
        "div",
        { className: "bar" },
        el("h2", { testid: "session-title", text: state.title ?? "Adventure" }),
        statusBadge,
      ),
      el(
        "div",
        { className: "bar" },
        el("span", { className: "sub", testid: "session-seer", text: "" }),
        connection,
        retry,
      ),
      problem,
      lobby,
      game,
      ended,
      el("h3", { text: "Players" }),
      players,
      el("h3", { text: "What happened" }),
      log,
      el("div", { className: "row" }, leave),
    );

    function render() {
      statusBadge.textContent = STATUS_LABELS[state.status] ?? state.status;
      statusBadge.dataset.status = state.status;
      const seerOnline = state.presence.has(state.seerId);
      root.querySelector("[data-testid=session-seer]").textContent = `Seer: ${state.seerName ?? "—"}${
        seerOnline ? " (online)" : ""
      }`;
      const running = state.status === "active" || state.status === "paused";
      lobby.hidden = state.status !== "waiting";
      game.hidden = !running;
      pausedNote.hidden = state.status !== "paused";
      readmitNote.hidden = me()?.status !== "inactive";
      actionText.disabled = state.status !== "active";
      ended.hidden = running || state.status === "waiting";
      if (!ended.hidden) {
        const s = state.stats;
        ended.replaceChildren(
          el("h3", { text: "The session is over" }),
          s
            ? el("p", {
              className: "sub",
              text:
                `${s.durationMinutes} min · ${s.nodesVisited} scenes · ${s.diceRolled} dice · ${s.experienceEarned} XP`,
            })
            : null,
        );
      }
      // the node
      nodeTitle.textContent = state.node?.title ?? "";
      nodeText.textContent = state.node?.body ?? "";
      choices.replaceChildren(
        ...(state.node?.choices ?? []).map((c, i) =>
          el("button", {
            className: "btn",
            testid: `choice-${i}`,
            text: c.label,
            attrs: { type: "button", "data-node-id": c.nodeId, disabled: state.status !== "active" },
            on: { click: () => sendAction(null, c.label) },
          })
        ),
      );
      const mine = me();
      myCharacter.textContent = mine?.character
        ? `${mine.character.name} · ${mine.character.class} · level ${mine.character.level}`
        : "—";
      // turn order
      combatBlock.hidden = !state.combat;
      turnOrder.replaceChildren(
        ...(state.combat?.order ?? []).map((c) =>
          el("li", {
            className: state.combat.current && state.combat.current.name === c.name &&
                state.combat.current.characterId === c.characterId
              ? "current"
              : "",
            text: `${c.name} (${c.initiative})`,
          })
        ),
      );
      dice.replaceChildren(
        ...state.dice.map((r) => el("li", { testid: "dice-roll", text: rollText(state, r) })),
      );
      // players: the Seer first, then every live seat with its connection status
      const seerItem = el(
        "li",
        { testid: "player-seer" },
        el(
          "span",
          {},
          el("span", { className: "who", text: state.seerName ?? "The Seer" }),
          el("span", { className: "sub", text: " · Seer" }),
        ),
        el("span", { className: "badge", text: seerOnline ? "online" : "Seer" }),
      );
      const seatItems = [...state.seats.values()].map((seat) => {
        const connected = seat.status === "connected";
        return el(
          "li",
          { testid: `player-${seat.id}`, attrs: { "data-user-id": seat.userId, "data-status": seat.status } },
          el(
            "span",
            {},
            el("span", { className: "who", text: seat.displayName ?? "A player" }),
            el("span", {
              className: "sub",
              text: ` · ${seat.character?.name ?? "?"}${seat.userId === state.userId ? " (you)" : ""}`,
            }),
          ),
          el("span", {
            className: `badge ${connected ? "on" : seat.status === "inactive" ? "gone" : "off"}`,
            testid: connected ? "player-connected" : "player-disconnected",
            text: SEAT_LABELS[seat.status] ?? seat.status,
          }),
        );
      });
      players.replaceChildren(seerItem, ...seatItems);
      if (current) {
        const s = current.stream;
        Object.assign(mount.dataset, {
          stream: s.stopped ? "stopped" : "running",
          lastSeq: String(s.lastSeq),
          recovered: String(s.recovered),
          rekeys: String(s.rekeys),
          reconnects: String(s.reconnects),
        });
      }
    }

    function logEvent(e, text, before) {
      log.append(
        el(
          "li",
          {
            testid: "event",
            attrs: { "data-seq": e.seq, "data-type": e.type, "data-replayed": before ? "true" : null },
          },
          el("span", { className: "seq", text: `#${e.seq}` }),
          text,
        ),
      );
      log.scrollTop = log.scrollHeight;
    }

    function setConnection(status) {
      connection.textContent = CONNECTION_LABELS[status] ?? status;
      connection.dataset.state = status;
      retry.hidden =
        !(status === "disconnected" && current && !current.stream.removed && !current.stream.stopped);
      if (status === "disconnected" && !retry.hidden) {
        problem.replaceChildren(
          message("connection-lost", `Lost the connection after ${MAX_RECONNECT_ATTEMPTS} attempts.`),
        );
      } else if (status === "connected") {
        problem.replaceChildren();
      }
      render();
    }

    return {
      root,
      render,
      log: logEvent,
      connection: setConnection,
      problem: (text) => problem.replaceChildren(message("app-error", text)),
    };
  }

  // ------------------------------------------------------------------ start
  globalThis.addEventListener("online", () => current?.stream.reconnectNow());
  supabase.auth.getSession().then(({ data }) => {
    if (data.session) afterSignIn();
    else renderAuth();
  });
})();
