"""Sahafa indexer: articles → normalised passages → embeddings → SQLite + FAISS."""

__version__ = "0.1.0"
