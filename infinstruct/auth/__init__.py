"""Users, roles, password hashing (argon2), API tokens and login throttling."""
