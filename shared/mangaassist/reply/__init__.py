"""Reply: validate the answer (format, language, safety, grounding), finalize the frame, cache it."""
