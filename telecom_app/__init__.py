"""The Reflex app: route trees for staff (admin/*) and sign-in (login), plus API routes."""
