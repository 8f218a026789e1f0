// The public preview of one session, as returned by the SQL function public.invite_preview(p_code).
// It deliberately has no session id, user ids, player names or character ids: anyone holding the
// link may see it.

export type InviteStatus = "waiting" | "active" | "paused" | "completed" | "cancelled";

export interface InvitePreview {
  code: string;
  status: InviteStatus;
  adventureTitle: string | null;
  adventureDescription: string | null;
  seerName: string | null;
  seatsLeft: number | null;
  maxPlayers: number | null;
  canJoin: boolean;
  /** Why a player cannot join right now (the PRD's join error message), null when canJoin. */
  reason: string | null;
  /** The PRD error code a join attempt would get (SESSION_003 full, SESSION_004 started), or null. */
  reasonCode: string | null;
}

/**
 * Looks up one code for a client network (networkKey); null when no session ever had it. Throws
 * TooManyFailedLookups when that network has used up its failure budget, anything else when the
 * backend fails.
 */
export type PreviewSource = (code: string, network: string) => Promise<InvitePreview | null>;

/** The network's unknown-code budget (shared with get_session_by_code's, SESSION_015) is used up. */
export class TooManyFailedLookups extends Error {}

// The PRD's join-code alphabet: no 0/O, 1/I/L.
export const CODE_PATTERN = /^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$/;

const STATUSES: readonly InviteStatus[] = ["waiting", "active", "paused", "completed", "cancelled"];

export function isEnded(status: InviteStatus): boolean {
  return status === "completed" || status === "cancelled";
}

function optionalString(value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw new TypeError(`invite_preview: ${field} is not a string`);
  return value;
}

function optionalCount(value: unknown, field: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`invite_preview: ${field} is not a count`);
  }
  return value;
}

/**
 * Checks the JSON the SQL function returned and keeps only the known public fields, so a future
 * column added on the SQL side cannot leak through the page by accident.
 */
export function parsePreview(raw: unknown): InvitePreview | null {
  if (raw === null || raw === undefined) return null;
  if (typeof raw !== "object" || Array.isArray(raw)) throw new TypeError("invite_preview: not an object");
  const r = raw as Record<string, unknown>;
  if (typeof r.code !== "string") throw new TypeError("invite_preview: code missing");
  if (!STATUSES.includes(r.status as InviteStatus)) throw new TypeError("invite_preview: bad status");
  if (typeof r.canJoin !== "boolean") throw new TypeError("invite_preview: canJoin missing");
  return {
    code: r.code,
    status: r.status as InviteStatus,
    adventureTitle: optionalString(r.adventureTitle, "adventureTitle"),
    adventureDescription: optionalString(r.adventureDescription, "adventureDescription"),
    seerName: optionalString(r.seerName, "seerName"),
    seatsLeft: optionalCount(r.seatsLeft, "seatsLeft"),
    maxPlayers: optionalCount(r.maxPlayers, "maxPlayers"),
    canJoin: r.canJoin,
    reason: optionalString(r.reason, "reason"),
    reasonCode: optionalString(r.reasonCode, "reasonCode"),
  };
}
