"""Page components, one module per route tree."""
