"""Dialect 3, conversations: ``Authorization: Bearer <access token>``, FastAPI-style
errors, and ``DELETE /api/chat/conversations/all`` with its JSON body of options."""
