"""Docker-free local Supabase-compatible stack (optional extra: ``seer-client[devstack]``)."""
