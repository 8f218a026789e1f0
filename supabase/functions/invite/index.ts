// Supabase Edge Function `invite`: turns <api>/functions/v1/invite/<CODE> into a shareable preview
// page (HTML for people and chat-app link previews, JSON for apps). Declared with verify_jwt = false
// in supabase/config.toml so the link opens without signing in. See docs/invite.md.

import { loadAssets } from "./assets.ts";
import { createInviteHandler, type WebClient } from "./handler.ts";
import { RateLimiter } from "./rate_limit.ts";
import { supabasePreviewSource } from "./source.ts";

function requireEnv(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`invite: environment variable ${name} is not set`);
  return value;
}

function intEnv(name: string, fallback: number): number {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`invite: ${name} must be a whole number, got ${raw}`);
  }
  return value;
}

/**
 * The player's web client: on unless INVITE_WEB_CLIENT=off. The browser talks to INVITE_API_URL,
 * else SUPABASE_URL (on a hosted project both are https://<ref>.supabase.co; under
 * `supabase functions serve` SUPABASE_URL is the Docker-internal http://kong:8000, so set it there).
 */
async function webClientFromEnv(): Promise<WebClient | undefined> {
  if ((Deno.env.get("INVITE_WEB_CLIENT") ?? "on").toLowerCase() === "off") return undefined;
  const apiUrl = Deno.env.get("INVITE_API_URL") || requireEnv("SUPABASE_URL");
  const anonKey = requireEnv("SUPABASE_ANON_KEY");
  try {
    return { apiUrl, anonKey, assets: await loadAssets() };
  } catch (e) {
    // Without its files the page still works as the script-free preview with the app link; say so
    // loudly (a deploy without static_files, or a copy of the function without static/).
    console.error(`invite: the web client is OFF: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

export async function handlerFromEnv() {
  return createInviteHandler({
    source: supabasePreviewSource(requireEnv("SUPABASE_URL"), requireEnv("SUPABASE_SERVICE_ROLE_KEY")),
    limiter: new RateLimiter({
      max: intEnv("INVITE_RATE_LIMIT", 30),
      windowMs: intEnv("INVITE_RATE_WINDOW_SECONDS", 60) * 1000,
    }),
    trustedProxyHops: intEnv("INVITE_TRUSTED_PROXY_HOPS", 1),
    publicBaseUrl: Deno.env.get("INVITE_PUBLIC_URL") || undefined,
    client: await webClientFromEnv(),
  });
}

if (import.meta.main) {
  Deno.serve(await handlerFromEnv());
}
