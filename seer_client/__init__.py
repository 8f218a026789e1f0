"""seer-client: session management for Seer on Supabase."""

__version__ = "0.1.0"
