// Supabase Edge Function `heartbeat`: the heartbeat collector. A connection's heartbeat arrives
// here instead of at the `heartbeat` RPC; the beats of a window go to the database as one
// transaction (public.heartbeat_batch), so a live player's heartbeats stop costing a transaction
// each. It batches only tokens it verified itself (verify.ts; HEARTBEAT_JWT_SECRET for the legacy
// HS256 tokens). See docs/heartbeat.md.

import { Collector, DEFAULT_WINDOW_MS, MAX_BATCH } from "./collector.ts";
import { createHeartbeatHandler } from "./handler.ts";
import { supabaseAsymmetricCheck, supabasePorts } from "./source.ts";
import { createVerifier } from "./verify.ts";

function requireEnv(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`heartbeat: environment variable ${name} is not set`);
  return value;
}

function intEnv(name: string, fallback: number, max: number): number {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`heartbeat: ${name} must be a whole number in 1-${max}, got ${raw}`);
  }
  return value;
}

export function handlerFromEnv() {
  const url = requireEnv("SUPABASE_URL");
  const anonKey = requireEnv("SUPABASE_ANON_KEY");
  const collector = new Collector(
    supabasePorts(url, anonKey, requireEnv("SUPABASE_SERVICE_ROLE_KEY")),
    {
      windowMs: intEnv("HEARTBEAT_WINDOW_MS", DEFAULT_WINDOW_MS, 5000),
      maxBatch: intEnv("HEARTBEAT_MAX_BATCH", MAX_BATCH, MAX_BATCH),
    },
  );
  const verify = createVerifier({
    hs256Secret: Deno.env.get("HEARTBEAT_JWT_SECRET") || undefined,
    asymmetric: supabaseAsymmetricCheck(url, anonKey),
  });
  return createHeartbeatHandler(collector, verify);
}

if (import.meta.main) {
  Deno.serve(handlerFromEnv());
}
