"""NarrativeWriter adapters: Gemini through google-genai."""
