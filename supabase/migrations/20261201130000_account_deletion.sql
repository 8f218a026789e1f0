-- Deleting an account (GoTrue's admin delete, `supabase.auth.admin.delete_user`, or a row
-- deleted from auth.users by the dashboard) works at any time. The rule (docs/security.md
-- "Account deletion"):
--   * every live session the person runs as Seer is cancelled, as end_session(cancelled)
--     would (players get session_status + session_ended; no experience is awarded);
--   * every live seat they hold is released (status left; player_left is announced with
--     userId null), whatever the session's state;
--   * history stays for the others, anonymised: sessions they ran keep seer_name
--     'Deleted user' and seer_id null, their seats keep user_id/character_id null, and in
--     the event log of every session they were part of their user id is replaced by null
--     and their player entries show displayName 'Deleted user' without a character;
--   * what is only theirs goes: profile, characters, feedback (foreign keys on delete
--     cascade, _profiles_characters_adventures and _sessions_schema migrations) and their
--     rate-limit counts.
-- GoTrue's soft delete (should_soft_delete) keeps the row: the same steps run when deleted_at
-- is set (handle_user_soft_deleted below), and the account can no longer create, join or look
-- up sessions.
-- The foreign keys alone cannot do this (a live session would be left without a Seer, and
-- `set null` cannot write events), so a BEFORE DELETE trigger does the steps above first;
-- the foreign keys' `on delete set null / cascade` then apply. Supabase documents triggers
-- on auth.users for exactly this kind of bookkeeping (as on_auth_user_created_seer_profile).

create function seer_private.anonymised_event(p_event jsonb, p_uid uuid)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select p_event
    || case when p_event ->> 'actor' = p_uid::text then '{"actor": null}'::jsonb else '{}' end
    || case when p_event ->> 'userId' = p_uid::text then '{"userId": null}'::jsonb else '{}' end
    || case when p_event ->> 'seerId' = p_uid::text then '{"seerId": null}'::jsonb else '{}' end
    || case when p_event -> 'player' ->> 'userId' = p_uid::text
         then jsonb_build_object('player', (p_event -> 'player')
                || '{"userId": null, "displayName": "Deleted user", "character": null}'::jsonb)
         else '{}' end
    -- the turnHistory entries the event carries (`entry`, `turns`: turnHistory is derived
    -- from them, seer_private.turn_history)
    || case when p_event -> 'entry' ->> 'actorId' = p_uid::text
         then jsonb_build_object('entry', (p_event -> 'entry') || '{"actorId": null}'::jsonb)
         else '{}' end
    || case when jsonb_typeof(p_event -> 'turns') = 'array' and p_event -> 'turns' @> jsonb_build_array(
                   jsonb_build_object('actorId', p_uid))
         then jsonb_build_object('turns', (
           select jsonb_agg(case when t ->> 'actorId' = p_uid::text then t || '{"actorId": null}'::jsonb else t end
                            order by o)
           from jsonb_array_elements(p_event -> 'turns') with ordinality x(t, o)))
         else '{}' end
$$;

-- The steps of the rule that the foreign keys cannot take, for the account p_uid: shared by
-- the hard delete (handle_user_deleted, before the foreign keys apply) and GoTrue's soft
-- delete (handle_user_soft_deleted, where no foreign key applies).
create function seer_private.apply_account_deletion(p_uid uuid)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_uid uuid := p_uid;
  v_sid uuid;
  v_seat public.session_players%rowtype;
begin
  -- Sessions in id order, each locked as the RPCs lock them, so this cannot deadlock with
  -- them (each RPC locks one session row).
  for v_sid in
    select s.id from public.sessions s
    where s.seer_id = v_uid and s.status in ('waiting', 'active', 'paused')
    union
    select sp.session_id from public.session_players sp
    where sp.user_id = v_uid and sp.left_at is null and not sp.session_ended
    order by 1
  loop
    perform seer_private.lock_session(v_sid);
    if exists (select 1 from public.sessions s
               where s.id = v_sid and s.seer_id = v_uid and s.status in ('waiting', 'active', 'paused')) then
      perform seer_private.finish_session(v_sid, 'cancelled', null, null, now());
    else
      for v_seat in
        update public.session_players
        set status = 'left', left_at = now(), left_reason = 'left', session_running = false
        where session_id = v_sid and user_id = v_uid and left_at is null
        returning *
      loop
        v_seat.user_id := null;  -- announced already anonymised
        -- the seat is released: rotate the channel key before the event (docs/security.md)
        perform seer_private.rotate_session_channel(v_sid);
        perform seer_private.write_event(v_sid, 'player_left', null,
          seer_private.event_player_left(v_seat, 'left', null));
      end loop;
    end if;
  end loop;

  -- the stored entries (turn_json) follow the anonymised payload, as the writer derives them
  update public.session_events e
  set actor = case when e.actor = v_uid then null else e.actor end,
      (payload, turn_json) = (
        select a.payload, seer_private.turn_json(seer_private.turns_of_event(e.type, a.payload))
        from (select seer_private.anonymised_event(e.payload, v_uid) as payload) a)
  where e.session_id in (select s.id from public.sessions s where s.seer_id = v_uid
                         union
                         select sp.session_id from public.session_players sp where sp.user_id = v_uid)
    and (e.actor = v_uid or e.payload::text like '%' || v_uid::text || '%');
  update public.sessions set seer_name = 'Deleted user' where seer_id = v_uid;
  delete from seer_private.rate_limit_hits h where h.subject = 'user:' || v_uid::text;
end
$$;

create function seer_private.handle_user_deleted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform seer_private.apply_account_deletion(old.id);
  return old;
end
$$;

-- GoTrue's soft delete (`DELETE /admin/users/{id}` with should_soft_delete: true, supabase/auth
-- internal/api/admin.go adminUserDelete -> User.SoftDeleteUser) never deletes the row: it
-- obfuscates email and phone, clears the metadata and sets deleted_at, and removes the
-- user's sessions, so no delete trigger fires (issue 20: a soft-deleted Seer's sessions kept
-- running and a soft-deleted player's seat stayed taken). The same rule applies when
-- deleted_at is first set: sessions cancelled, seats released, history anonymised. What the
-- foreign keys would remove (profile, characters, feedback) stays with the row GoTrue keeps
-- until a hard delete; require_account refuses the account from then on (SESSION_018), and
-- its access token - valid until it expires, as everywhere on Supabase - finds no live seat.
create function seer_private.handle_user_soft_deleted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform seer_private.apply_account_deletion(new.id);
  return null;
end
$$;
revoke execute on function seer_private.handle_user_deleted(), seer_private.handle_user_soft_deleted(),
  seer_private.apply_account_deletion(uuid), seer_private.anonymised_event(jsonb, uuid)
  from public, anon, authenticated;

create trigger on_auth_user_deleted_seer_history
  before delete on auth.users
  for each row execute function seer_private.handle_user_deleted();

create trigger on_auth_user_soft_deleted_seer_history
  after update of deleted_at on auth.users
  for each row
  when (old.deleted_at is null and new.deleted_at is not null)
  execute function seer_private.handle_user_soft_deleted();
