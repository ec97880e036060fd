"""People and their roles: users, passwords, the second factor, sign-in and sessions."""
