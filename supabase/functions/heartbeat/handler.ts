// Request handling for the heartbeat function, independent of the collector's ports.
//
//   POST /heartbeat {"sessionId": "<uuid>"}   Authorization: Bearer <the user's access token>
//
// Answers exactly what the `heartbeat` RPC answers that user (docs/contract.md): 200 with the
// heartbeat JSON, or PostgREST's status and error body. Its own answers: 400 SESSION_000 for a body
// that is not {"sessionId": uuid} (at most 1 KiB), 405 for other methods, 503 when the database is
// unreachable. Only a signed-in user's token whose signature this function verified (verify.ts)
// is batched under its `sub`. Any other token (anon, service_role, none, one it cannot verify) is
// not batched: it goes on as the RPC call it would have been, and the database answers it.

import type { Collector, Reply } from "./collector.ts";
import { signedInUser, UUID, type Verifier } from "./verify.ts";

export type HeartbeatHandler = (req: Request) => Promise<Response>;

const MAX_BODY = 1024;

function json(reply: Reply): Response {
  return new Response(JSON.stringify(reply.body), {
    status: reply.status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

function error(status: number, code: string, message: string): Response {
  return json({ status, body: { code, message, details: null, hint: null } });
}

/** The bearer token of the request, or "" when there is none. */
export function bearer(req: Request): string {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
  return match ? match[1] : "";
}

/** The body as text, or null past `max` bytes (read no further than that). */
async function boundedText(req: Request, max: number): Promise<string | null> {
  if (Number(req.headers.get("content-length") ?? "0") > max) return null;
  if (req.body === null) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}

async function sessionIdOf(req: Request): Promise<string | null> {
  const text = await boundedText(req, MAX_BODY);
  if (text === null) return null;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const sessionId = (body as Record<string, unknown>).sessionId;
  return typeof sessionId === "string" && UUID.test(sessionId) ? sessionId.toLowerCase() : null;
}

export function createHeartbeatHandler(
  collector: Collector,
  verify: Verifier,
  now: () => number = () => Date.now(),
): HeartbeatHandler {
  return async (req: Request) => {
    if (req.method !== "POST") {
      return error(405, "HEARTBEAT_METHOD_NOT_ALLOWED", "Use POST");
    }
    const sessionId = await sessionIdOf(req);
    if (sessionId === null) {
      return error(400, "SESSION_000", 'the body must be {"sessionId": "<uuid>"}');
    }
    const token = bearer(req);
    const claimed = signedInUser(token, Math.floor(now() / 1000));
    const userId = claimed !== null && await verify(token, claimed) ? claimed : null;
    const reply = userId === null
      ? await collector.alone(token, sessionId)
      : await collector.beat(token, userId, sessionId);
    return json(reply);
  };
}
