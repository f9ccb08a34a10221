"""Teams' limit of 7 messages per second per conversation, kept per conversation."""

from __future__ import annotations

import time

from bot.alert_channels import ConversationPace


async def test_the_eighth_send_to_one_conversation_waits_and_others_do_not() -> None:
    pace = ConversationPace(rate=7)
    began = time.monotonic()
    for _ in range(7):
        await pace.wait("a:one")
    await pace.wait("a:two")
    assert time.monotonic() - began < 0.5
    await pace.wait("a:one")
    assert time.monotonic() - began >= 0.95
