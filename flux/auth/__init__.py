"""Identity and access: accounts, sessions, JWTs, service keys, permissions."""
