-- What players keep: their characters, and the feedback they leave on a session (which the Seer
-- reads).

create function public.submit_feedback(p_session_id uuid, p_rating int, p_comment text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_comment text := seer_private.clean_text(p_comment, 'comment', 2000, p_multiline => true);
  v_s public.sessions%rowtype;
  v_seat public.session_players%rowtype;
  v_fb public.session_feedback%rowtype;
begin
  if p_rating is null or p_rating not between 1 and 5 then
    perform seer_private.raise_error('SESSION_000', 'rating must be between 1 and 5');
  end if;
  v_s := seer_private.read_session(p_session_id);
  v_seat := seer_private.caller_seat(v_s, v_uid);
  if v_s.status not in ('completed', 'cancelled') then
    perform seer_private.raise_error('SESSION_010', 'feedback opens when the session has ended');
  end if;
  insert into public.session_feedback (session_id, user_id, player_id, rating, comment)
  values (v_s.id, v_uid, v_seat.id, p_rating, v_comment)
  on conflict (session_id, user_id) do update
    set rating = excluded.rating, comment = excluded.comment, updated_at = now()
  returning * into v_fb;
  return jsonb_build_object('sessionId', v_fb.session_id, 'rating', v_fb.rating,
                            'comment', v_fb.comment, 'createdAt', v_fb.created_at);
end
$$;

-- The Seer reads the feedback players left on their session (players read their own via RLS).
create function public.list_feedback(p_session_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_s public.sessions%rowtype;
begin
  v_s := seer_private.read_session(p_session_id);
  perform seer_private.require_seer(v_s, v_uid);
  return coalesce((
    select jsonb_agg(jsonb_build_object(
        'playerId', f.player_id, 'userId', f.user_id, 'displayName', pr.display_name,
        'characterName', c.name, 'rating', f.rating, 'comment', f.comment,
        'createdAt', f.created_at, 'updatedAt', f.updated_at)
      order by f.created_at, f.user_id)
    from public.session_feedback f
    left join public.profiles pr on pr.id = f.user_id
    left join public.session_players sp on sp.id = f.player_id
    left join public.characters c on c.id = sp.character_id
    where f.session_id = v_s.id), '[]'::jsonb);
end
$$;

create function public.create_character(p_name text, p_class text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
  v_name text := seer_private.clean_text(p_name, 'name', 60, true);
  v_class text := seer_private.clean_text(p_class, 'class', 40, true);
  v_char public.characters%rowtype;
begin
  if (select count(*) from public.characters c where c.owner_id = v_uid) >= 100 then
    perform seer_private.raise_error('SESSION_000', 'at most 100 characters per user');
  end if;
  insert into public.characters (owner_id, name, class)
  values (v_uid, v_name, v_class)
  returning * into v_char;
  return seer_private.character_json(v_char)::jsonb;
end
$$;

create function public.list_my_characters()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := seer_private.require_uid();
begin
  return coalesce((
    select jsonb_agg(seer_private.character_json(c)::jsonb || jsonb_build_object('activeSessionId', (
        select sp.session_id from public.session_players sp
        where sp.character_id = c.id and sp.left_at is null and not sp.session_ended),
        'items', coalesce((select jsonb_agg(ci.item order by ci.created_at, ci.id)
                           from public.character_items ci where ci.character_id = c.id), '[]'::jsonb))
      order by c.created_at, c.id)
    from public.characters c
    where c.owner_id = v_uid), '[]'::jsonb);
end
$$;

-- RPCs for signed-in users (service_role for tools), not for anon or PUBLIC.
revoke execute on function
  public.submit_feedback(uuid, int, text),
  public.list_feedback(uuid),
  public.create_character(text, text),
  public.list_my_characters()
  from public, anon;
grant execute on function
  public.submit_feedback(uuid, int, text),
  public.list_feedback(uuid),
  public.create_character(text, text),
  public.list_my_characters()
  to authenticated, service_role;
