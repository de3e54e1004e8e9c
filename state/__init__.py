"""Thin rx.State classes: read input, call one service, put the result in vars."""
