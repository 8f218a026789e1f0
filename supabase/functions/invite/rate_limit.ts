// Per-client token bucket for code lookups, so the invite link cannot be used to enumerate codes.
// State lives in this isolate's memory: on a platform that runs several isolates the limit applies
// per isolate (see docs/invite.md).

export interface RateDecision {
  allowed: boolean;
  /** Whole lookups left in the bucket after this one. */
  remaining: number;
  /** Seconds until one more lookup is allowed (0 when allowed). */
  retryAfterSeconds: number;
}

export interface RateLimitOptions {
  /** Bucket size: lookups allowed in a burst, and refilled over one window. */
  max: number;
  windowMs: number;
  now?: () => number;
  /** Distinct clients remembered at once; the least recently seen are dropped beyond this. */
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  readonly max: number;
  readonly windowMs: number;
  readonly #now: () => number;
  readonly #maxClients: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions) {
    if (!Number.isInteger(options.max) || options.max < 1) {
      throw new RangeError("max must be an integer >= 1");
    }
    if (!(options.windowMs > 0)) throw new RangeError("windowMs must be > 0");
    this.max = options.max;
    this.windowMs = options.windowMs;
    this.#now = options.now ?? Date.now;
    this.#maxClients = options.maxClients ?? 10_000;
  }

  get size(): number {
    return this.#buckets.size;
  }

  take(client: string): RateDecision {
    const now = this.#now();
    const rate = this.max / this.windowMs; // tokens per ms
    const previous = this.#buckets.get(client);
    let tokens = this.max;
    if (previous) {
      tokens = Math.min(this.max, previous.tokens + Math.max(0, now - previous.updatedAt) * rate);
      // Re-insert so Map order is least-recently-seen first.
      this.#buckets.delete(client);
    }
    let allowed = false;
    if (tokens >= 1) {
      tokens -= 1;
      allowed = true;
    }
    this.#buckets.set(client, { tokens, updatedAt: now });
    this.#evict();
    return {
      allowed,
      remaining: Math.floor(tokens),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / rate / 1000)),
    };
  }

  #evict(): void {
    while (this.#buckets.size > this.#maxClients) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest === undefined) break;
      this.#buckets.delete(oldest);
    }
  }
}

/**
 * The address to rate-limit on. Proxies append the address they saw to X-Forwarded-For, so the
 * entry `trustedHops` from the right was written by our own outermost trusted proxy; entries left
 * of it are whatever the client sent and can be forged. With no header (or trustedHops 0) the TCP
 * peer is used.
 */
export function clientAddress(req: Request, remoteHostname: string | undefined, trustedHops: number): string {
  const forwarded = req.headers.get("x-forwarded-for");
  if (forwarded && trustedHops > 0) {
    const hops = forwarded.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
    if (hops.length > 0) return hops[Math.max(0, hops.length - trustedHops)];
  }
  return remoteHostname ?? "unknown";
}
