-- Run the sweeper every minute where pg_cron exists (Supabase: enable it from the
-- dashboard or here). Done dynamically so the migration also applies where pg_cron is not
-- installed or not preloaded; then something else must call public.sweep_sessions().
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_cron') then
    begin
      create extension if not exists pg_cron;
      execute $sql$select cron.schedule('seer-sweep-sessions', '* * * * *', 'select seer_private.sweep()')$sql$;
    exception when others then
      raise notice 'pg_cron is available but could not be set up (%); schedule seer_private.sweep() yourself', sqlerrm;
    end;
  end if;
end
$$;
