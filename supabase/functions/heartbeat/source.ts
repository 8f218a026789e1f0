// The collector's ports on a Supabase project: heartbeat_batch with the service key (only
// service_role may call it: the user ids are this function's word), and the caller's own
// heartbeat RPC with the caller's token, whose reply (status and body) passes on unchanged.

import { createClient } from "@supabase/supabase-js";
import type { Answer, BatchBeat, CollectorPorts, Reply } from "./collector.ts";
import type { AsymmetricCheck } from "./verify.ts";

/** A server-side client: no session to keep, refresh or read from a URL. */
const SERVER_CLIENT = {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
};

/** An asymmetrically signed token's `sub`, checked against the project's JWKS (auth-js caches
 * the keys: one fetch per key set, not per beat). */
export function supabaseAsymmetricCheck(supabaseUrl: string, anonKey: string): AsymmetricCheck {
  const client = createClient(supabaseUrl, anonKey, SERVER_CLIENT);
  return async (token: string) => {
    const { data, error } = await client.auth.getClaims(token);
    const sub = data?.claims?.sub;
    return !error && typeof sub === "string" ? sub : null;
  };
}

export function supabasePorts(supabaseUrl: string, anonKey: string, serviceRoleKey: string): CollectorPorts {
  const service = createClient(supabaseUrl, serviceRoleKey, SERVER_CLIENT);
  const rpcUrl = `${supabaseUrl.replace(/\/+$/, "")}/rest/v1/rpc/heartbeat`;
  return {
    async sendBatch(beats: BatchBeat[]): Promise<(Answer | null)[]> {
      const { data, error } = await service.rpc("heartbeat_batch", { p_beats: beats });
      if (error) throw new Error(`heartbeat_batch failed: ${error.code ?? ""} ${error.message}`);
      return data as (Answer | null)[];
    },
    async sendOne(token: string, sessionId: string): Promise<Reply> {
      const headers: Record<string, string> = { apikey: anonKey, "content-type": "application/json" };
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers,
        body: JSON.stringify({ p_session_id: sessionId }),
      });
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`heartbeat answered ${res.status} without JSON`);
      }
      return { status: res.status, body };
    },
  };
}
