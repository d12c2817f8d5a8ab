"""Talking to other systems: outbound webhooks (signed as Standard Webhooks says)."""
