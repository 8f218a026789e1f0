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

/**
 * The network a client address belongs to, which is what lookups are limited by: an IPv4
 * address as is, an IPv6 address by its /64 (one subscriber's LAN gets a whole /64, so per
 * address it would be 2^64 buckets), an IPv4-mapped IPv6 address as its IPv4 address. Anything
 * that is not an IP address (e.g. "unknown") is its own key.
 */
export function networkKey(address: string): string {
  let a = address.trim().toLowerCase();
  if (a.startsWith("[") && a.includes("]")) a = a.slice(1, a.indexOf("]"));
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  if (!a.includes(":")) return a;
  const groups = expandIpv6(a);
  if (groups === null) return a;
  const g = groups.map((x) => parseInt(x, 16));
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return [g[6] >> 8, g[6] & 255, g[7] >> 8, g[7] & 255].join(".");
  }
  return `${groups.slice(0, 4).join(":")}::/64`;
}

function expandIpv6(a: string): string[] | null {
  let text = a;
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number);
    text = text.slice(0, v4.index) + `${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => parseInt(g, 16).toString(16));
}
