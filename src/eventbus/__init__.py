"""eventbus: an asyncio message bus with sessions, observability and a durable event store."""
