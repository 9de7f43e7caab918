"""Who may call: the roles and the API token store (hashed tokens in ``CE_TOKENS_FILE``).

Kept in the kernel because the dashboard checks tokens, while ``compoundeye token add``,
``compoundeye demo`` and the benchmarks issue them.
"""
