"""The Redis store: the one owner of the key layout, the Lua scripts, the
client and the embedded server."""
