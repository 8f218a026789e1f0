// Previews come from the SQL function public.invite_preview(p_code, p_client), which only
// service_role may execute, which returns only public fields and which counts a network's unknown
// codes toward the shared failure budget (supabase/migrations/*_invite_preview.sql).

import { createClient } from "@supabase/supabase-js";
import { parsePreview, type PreviewSource, TooManyFailedLookups } from "./preview.ts";

export function supabasePreviewSource(supabaseUrl: string, serviceRoleKey: string): PreviewSource {
  const client = createClient(supabaseUrl, serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  return async (code: string, network: string) => {
    const { data, error } = await client.rpc("invite_preview", { p_code: code, p_client: network });
    if (error?.code === "SESSION_015") throw new TooManyFailedLookups(error.message);
    if (error) throw new Error(`invite_preview(${code}) failed: ${error.code ?? ""} ${error.message}`);
    return parsePreview(data);
  };
}
