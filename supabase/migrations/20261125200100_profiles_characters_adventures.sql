-- Minimal profile, character and adventure model the session feature builds on.
-- Writes go through RPCs or the service role only; RLS policies live in the _rls migration.

create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  display_name text not null check (length(display_name) between 1 and 60),
  created_at timestamptz not null default now()
);

-- Every new auth user gets a profile; the display name comes from sign-up metadata
-- (display_name, then name), else the e-mail's local part, else a neutral default. Sign-up
-- metadata is whatever the client sent GoTrue, and raising here would fail the sign-up with a
-- 500, so characters clean_text refuses (seer_private.unsafe_text_chars) are removed instead.
create function seer_private.handle_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_name text;
begin
  foreach v_name in array array[new.raw_user_meta_data ->> 'display_name',
      new.raw_user_meta_data ->> 'name', split_part(coalesce(new.email, ''), '@', 1)] loop
    v_name := nullif(btrim(regexp_replace(v_name, seer_private.unsafe_text_chars(false), '', 'g'),
                           E' \u200b\u200c\u200d\u2060\ufeff'), '');
    exit when v_name is not null;
  end loop;
  insert into public.profiles (id, display_name)
  values (new.id, left(coalesce(v_name, 'Adventurer'), 60))
  on conflict (id) do nothing;
  return new;
end
$$;
revoke execute on function seer_private.handle_new_user() from public, anon, authenticated;

create trigger on_auth_user_created_seer_profile
  after insert on auth.users
  for each row execute function seer_private.handle_new_user();

create table public.characters (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null references auth.users (id) on delete cascade,
  name text not null check (length(name) between 1 and 60),
  class text not null check (length(class) between 1 and 40),
  level int not null default 1 check (level >= 1),
  experience int not null default 0 check (experience >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index characters_owner_idx on public.characters (owner_id);

-- Items a character brought home: on `completed`, every inventory entry assigned to a
-- character seated at the end (assignedTo = its id) is copied here (finish_session).
create table public.character_items (
  id uuid primary key default gen_random_uuid(),
  character_id uuid not null references public.characters (id) on delete cascade,
  session_id uuid,
  item jsonb not null,
  created_at timestamptz not null default now()
);
create index character_items_character_idx on public.character_items (character_id, created_at);

create table public.adventures (
  id uuid primary key default gen_random_uuid(),
  title text not null check (length(title) between 1 and 200),
  description text not null default '',
  min_players int not null default 1 check (min_players between 1 and 6),
  max_players int not null default 6 check (max_players between 1 and 6),
  recommended_min_players int not null default 1,
  recommended_max_players int not null default 6,
  start_node_id uuid,
  estimated_duration_minutes int not null default 60 check (estimated_duration_minutes > 0),
  is_published boolean not null default true,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  check (min_players <= max_players),
  check (recommended_min_players between min_players and recommended_max_players),
  check (recommended_max_players <= max_players)
);

create table public.adventure_nodes (
  id uuid primary key default gen_random_uuid(),
  adventure_id uuid not null references public.adventures (id) on delete cascade,
  node_type text not null check (node_type in ('story', 'choice', 'combat', 'puzzle', 'ending')),
  title text not null check (length(title) between 1 and 200),
  body text not null default '',
  xp_reward int not null default 0 check (xp_reward >= 0),
  position int not null default 0,
  -- lets the start-node FK below require the node to belong to the same adventure
  unique (adventure_id, id)
);
create index adventure_nodes_adventure_idx on public.adventure_nodes (adventure_id, position);

-- The adventure graph: the Seer moves from a node only along one of its links (the choices
-- players see, in `position` order). Both ends belong to the link's adventure.
create table public.adventure_links (
  id uuid primary key default gen_random_uuid(),
  adventure_id uuid not null references public.adventures (id) on delete cascade,
  from_node_id uuid not null,
  to_node_id uuid not null,
  label text not null check (length(label) between 1 and 200),
  position int not null default 0,
  foreign key (adventure_id, from_node_id) references public.adventure_nodes (adventure_id, id) on delete cascade,
  foreign key (adventure_id, to_node_id) references public.adventure_nodes (adventure_id, id) on delete cascade,
  unique (from_node_id, to_node_id)
);
create index adventure_links_from_idx on public.adventure_links (from_node_id, position);
create index adventure_links_adventure_idx on public.adventure_links (adventure_id);

-- Deferrable so an adventure and its nodes can be inserted in one transaction in any order.
alter table public.adventures
  add constraint adventures_start_node_fk
  foreign key (id, start_node_id) references public.adventure_nodes (adventure_id, id)
  deferrable initially deferred;

-- Supabase grants ALL on new public tables to anon/authenticated by default: take writes away.
revoke all on public.profiles, public.characters, public.character_items, public.adventures,
  public.adventure_nodes, public.adventure_links from anon;
revoke insert, update, delete, truncate, references, trigger
  on public.profiles, public.characters, public.character_items, public.adventures,
  public.adventure_nodes, public.adventure_links from authenticated;

alter table public.profiles enable row level security;
alter table public.characters enable row level security;
alter table public.character_items enable row level security;
alter table public.adventures enable row level security;
alter table public.adventure_nodes enable row level security;
alter table public.adventure_links enable row level security;
