"""The domain core: models, routing policy, state rules and metrics.

Pure: no Redis, asyncio or HTTP (tests/test_layers.py keeps it so)."""
