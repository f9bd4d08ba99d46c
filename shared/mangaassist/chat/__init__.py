"""The conversation around the machine: frames in, the turn run, the reply out, sessions recorded."""
