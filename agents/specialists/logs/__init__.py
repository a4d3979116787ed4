"""The logs specialist: new, spiking and silenced log patterns, and broken log flows (the step that no
longer follows)."""
