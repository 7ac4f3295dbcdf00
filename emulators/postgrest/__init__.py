"""A local PostgREST (Supabase REST API) emulator over a real PostgreSQL database, for tests."""

from .server import PostgrestEmulator

__all__ = ["PostgrestEmulator"]
