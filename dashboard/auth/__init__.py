"""Who is calling: hashed API tokens, signed session cookies, roles."""
