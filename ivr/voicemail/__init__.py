"""Voicemail: recordings taken in as draft work orders, transcribed offline with Vosk by durable jobs."""
