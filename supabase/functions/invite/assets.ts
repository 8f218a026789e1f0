// The browser client's files (supabase/functions/invite/static/), served by the function itself so
// the page needs no CDN. They are declared as static_files of [functions.invite] in
// supabase/config.toml, so `supabase functions deploy invite` bundles them with the code.
//
// The handler only sees an AssetStore (name -> bytes, type, Subresource Integrity hash), so the unit
// tests can hand it in-memory files; loadAssets() reads the real ones once at start.

export interface Asset {
  body: Uint8Array;
  contentType: string;
  /** Subresource Integrity value ("sha384-<base64>") the page puts on the <script> tag. */
  integrity: string;
  /** A short hash of the content, appended as ?v= so a new deploy is never served from cache. */
  version: string;
}

export type AssetStore = ReadonlyMap<string, Asset>;

/**
 * The files of the browser client, in the order the page loads them. supabase-js is the npm
 * package's UMD build, vendored byte for byte (version and checksum in docs/invite.md); the pin
 * matches the `npm:@supabase/supabase-js` import in deno.json.
 */
export const CLIENT_SCRIPTS = ["supabase-js-2.119.1.umd.js", "protocol.js", "app.js"] as const;

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
};

function base64(bytes: ArrayBuffer): string {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text);
}

export async function makeAsset(name: string, body: Uint8Array): Promise<Asset> {
  const ext = name.slice(name.lastIndexOf(".") + 1);
  const type = TYPES[ext];
  if (!type) throw new Error(`invite: no content type for static file ${name}`);
  const digest = await crypto.subtle.digest("SHA-384", body as Uint8Array<ArrayBuffer>);
  const hex = Array.from(new Uint8Array(digest).slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
  return { body, contentType: type, integrity: `sha384-${base64(digest)}`, version: hex };
}

/**
 * Reads the client's files. Next to this module first (the devstack, `supabase functions serve`);
 * then relative to the working directory, where the Supabase docs' examples read static files.
 */
export async function loadAssets(names: readonly string[] = CLIENT_SCRIPTS): Promise<AssetStore> {
  const store = new Map<string, Asset>();
  for (const name of names) {
    let body: Uint8Array;
    try {
      body = await Deno.readFile(new URL(`./static/${name}`, import.meta.url));
    } catch (first) {
      try {
        body = await Deno.readFile(`./static/${name}`);
      } catch {
        throw new Error(
          `invite: static file static/${name} is missing (is it listed in static_files?): ${first}`,
        );
      }
    }
    store.set(name, await makeAsset(name, body));
  }
  return store;
}
