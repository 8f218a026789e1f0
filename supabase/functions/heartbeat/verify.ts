// Which tokens the collector may batch under their `sub`: only those whose signature this function
// verified itself. The user ids in a batch are the function's word to the database
// (heartbeat_batch is service_role only), so a claim it has not checked is never one of them; an
// unverified beat still goes on, as the caller's own RPC, where PostgREST checks the token.
//
// * HS256 (the legacy JWT secret): verified with HEARTBEAT_JWT_SECRET when it is set (the
//   project's JWT secret, `supabase secrets set`); without it no HS256 token is batched. The
//   platform's verify_jwt is not relied on: Supabase asks projects on the new signing keys to turn
//   it off, and a forged HS256 token would then pass here unchecked.
// * ES256 / RS256 (the new asymmetric signing keys): verified against the project's JWKS by the
//   asymmetric port (supabase-js auth.getClaims, source.ts), which caches the keys.
// * Anything else (no alg, "none", other HMACs): not batched.

/** Whether `token` is signed by the project for `userId` (its `sub`). */
export type Verifier = (token: string, userId: string) => Promise<boolean>;

/** The `sub` of an asymmetrically signed token once its signature checks out, else null. */
export type AsymmetricCheck = (token: string) => Promise<string | null>;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function base64url(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** The token's header (`part` 0) or claims (1) as an object, or null. */
function part(token: string, index: 0 | 1): Record<string, unknown> | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(base64url(parts[index])));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : null;
  } catch {
    return null;
  }
}

/** The token's signing algorithm (its header's `alg`), or "" when it has none. */
export function algorithmOf(token: string): string {
  const alg = part(token, 0)?.alg;
  return typeof alg === "string" ? alg : "";
}

/**
 * The user id a token claims, lower-cased, when it claims to be a signed-in user's (role
 * `authenticated`, a uuid `sub`, an `exp` after `nowSeconds`); else null. A claim only: the
 * Verifier checks the signature.
 */
export function signedInUser(token: string, nowSeconds: number): string | null {
  const claims = part(token, 1);
  if (claims === null) return null;
  const { role, sub, exp } = claims;
  if (role !== "authenticated" || typeof sub !== "string" || !UUID.test(sub)) return null;
  if (typeof exp !== "number" || exp <= nowSeconds) return null;
  return sub.toLowerCase();
}

export function createVerifier(options: { hs256Secret?: string; asymmetric: AsymmetricCheck }): Verifier {
  const hmacKey = options.hs256Secret
    ? crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(options.hs256Secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    )
    : null;
  return async (token: string, userId: string): Promise<boolean> => {
    const alg = algorithmOf(token);
    try {
      if (alg === "HS256") {
        if (hmacKey === null) return false;
        const [header, payload, signature] = token.split(".");
        return await crypto.subtle.verify(
          "HMAC",
          await hmacKey,
          base64url(signature),
          new TextEncoder().encode(`${header}.${payload}`),
        );
      }
      if (/^(ES|RS)(256|384|512)$/.test(alg)) {
        return (await options.asymmetric(token))?.toLowerCase() === userId;
      }
    } catch {
      // a malformed signature or an unreachable JWKS: not verified, so not batched
    }
    return false;
  };
}
