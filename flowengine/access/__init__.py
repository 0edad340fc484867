"""Who is acting, and what they may do: the authenticated login, grants per workflow, the access log."""
