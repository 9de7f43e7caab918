"""Who is calling: signed session cookies and the request's principal (API tokens and roles
are the kernel's, :mod:`compoundeye.auth`)."""
