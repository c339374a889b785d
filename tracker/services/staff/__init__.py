"""Staff: sign-in (one credential check for the pages and the API), sessions, second factor, API
tokens, passwords, and the admin's staff list."""
