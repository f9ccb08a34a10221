"""Test doubles that speak the real wire protocols of outside systems."""
