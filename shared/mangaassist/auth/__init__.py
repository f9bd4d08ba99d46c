"""Who is talking: JWT verification at $connect and the principal every later route reads."""
