"""People who sign in: password hashing, one-time codes and the OpenID Connect steps that need no I/O."""
