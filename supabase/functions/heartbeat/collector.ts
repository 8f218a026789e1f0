// The heartbeat collector's policy, independent of where beats go (source.ts holds the adapters),
// so the unit tests drive it with in-memory ports and a fake timer.
//
// Beats that arrive within one window (or until maxBatch of them) go to the database as one
// transaction (public.heartbeat_batch). The database answers each beat or answers null; a null
// beat (a seat to restore, a readmit to ask, a caller it refuses) goes on as that caller's own
// heartbeat RPC, with the caller's own token: only the database decides who may do what, this
// file only decides when beats travel together. If the batch call fails, every beat of it goes on
// alone: a batch never loses a beat.

/** What the database answers a heartbeat (docs/contract.md), as JSON. */
export type Answer = Record<string, unknown>;

/** One beat as heartbeat_batch takes it. */
export interface BatchBeat {
  sessionId: string;
  userId: string;
}

/** An HTTP answer to pass on unchanged: the status and the JSON body PostgREST gave. */
export interface Reply {
  status: number;
  body: unknown;
}

export interface CollectorPorts {
  /** heartbeat_batch: one answer or null per beat, in order. */
  sendBatch(beats: BatchBeat[]): Promise<(Answer | null)[]>;
  /** The caller's own heartbeat RPC with the caller's token ("" for none): PostgREST's reply. */
  sendOne(token: string, sessionId: string): Promise<Reply>;
}

export interface Timer {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimer: Timer = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as number),
};

export interface CollectorOptions {
  /** How long the first beat of a batch waits for others (ms). */
  windowMs?: number;
  /** At most this many beats per batch (heartbeat_batch takes 1-1000). */
  maxBatch?: number;
  timer?: Timer;
  log?: (message: string) => void;
}

interface Pending extends BatchBeat {
  token: string;
  resolve: (reply: Reply) => void;
}

export const DEFAULT_WINDOW_MS = 100;
export const MAX_BATCH = 1000;

export class Collector {
  readonly #ports: CollectorPorts;
  readonly #windowMs: number;
  readonly #maxBatch: number;
  readonly #timer: Timer;
  readonly #log: (message: string) => void;
  #pending: Pending[] = [];
  #handle: unknown = undefined;
  /** Batches sent and beats in them, for the logs and the tests. */
  batches = 0;
  beats = 0;

  /** Beats waiting for their window to end. */
  get waiting(): number {
    return this.#pending.length;
  }

  constructor(ports: CollectorPorts, options: CollectorOptions = {}) {
    this.#ports = ports;
    this.#windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.#maxBatch = Math.min(MAX_BATCH, Math.max(1, options.maxBatch ?? MAX_BATCH));
    this.#timer = options.timer ?? realTimer;
    this.#log = options.log ?? ((m) => console.error(m));
  }

  /** A beat of a verified user: answered with the batch, or as their own heartbeat. */
  beat(token: string, userId: string, sessionId: string): Promise<Reply> {
    return new Promise((resolve) => {
      this.#pending.push({ token, userId, sessionId, resolve });
      if (this.#pending.length >= this.#maxBatch) {
        this.flush();
      } else if (this.#handle === undefined) {
        this.#handle = this.#timer.set(() => this.flush(), this.#windowMs);
      }
    });
  }

  /** A beat the batch cannot carry (no verified user id): straight to the caller's own heartbeat. */
  alone(token: string, sessionId: string): Promise<Reply> {
    return this.#ports.sendOne(token, sessionId);
  }

  /** Send what is pending now (the timer calls it; so does a full batch). */
  flush(): void {
    if (this.#handle !== undefined) {
      this.#timer.clear(this.#handle);
      this.#handle = undefined;
    }
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) void this.#send(batch);
  }

  async #send(batch: Pending[]): Promise<void> {
    this.batches += 1;
    this.beats += batch.length;
    let answers: (Answer | null)[] | undefined;
    try {
      answers = await this.#ports.sendBatch(batch.map(({ sessionId, userId }) => ({ sessionId, userId })));
      if (!Array.isArray(answers) || answers.length !== batch.length) {
        throw new Error(`heartbeat_batch answered ${answers?.length} answers for ${batch.length} beats`);
      }
    } catch (e) {
      this.#log(`heartbeat: batch of ${batch.length} failed, each beat goes alone: ${String(e)}`);
      answers = undefined;
    }
    await Promise.all(batch.map(async (beat, i) => {
      const answer = answers?.[i];
      if (answer) {
        const { userId: _userId, ...body } = answer;
        beat.resolve({ status: 200, body });
        return;
      }
      try {
        beat.resolve(await this.#ports.sendOne(beat.token, beat.sessionId));
      } catch (e) {
        this.#log(`heartbeat: a single heartbeat failed: ${String(e)}`);
        beat.resolve(UNAVAILABLE);
      }
    }));
  }
}

export const UNAVAILABLE: Reply = {
  status: 503,
  body: {
    code: "HEARTBEAT_UNAVAILABLE",
    message: "Heartbeat is unavailable; try again",
    details: null,
    hint: null,
  },
};
