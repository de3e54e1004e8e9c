"""Local stand-ins for external providers: real HTTP servers with fault injection (never imported by services)."""
