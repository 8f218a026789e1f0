// Previews come from the SQL function public.invite_preview(p_code), which only service_role may
// execute and which returns only public fields (supabase/migrations/*_invite_preview.sql).

import { createClient } from "@supabase/supabase-js";
import { parsePreview, type PreviewSource } from "./preview.ts";

export function supabasePreviewSource(supabaseUrl: string, serviceRoleKey: string): PreviewSource {
  const client = createClient(supabaseUrl, serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  return async (code: string) => {
    const { data, error } = await client.rpc("invite_preview", { p_code: code });
    if (error) throw new Error(`invite_preview(${code}) failed: ${error.code ?? ""} ${error.message}`);
    return parsePreview(data);
  };
}
