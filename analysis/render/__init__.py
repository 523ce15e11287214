"""Renderings for people and tools: cells, terminal, markdown, CSV, HTML, JSON, samples, pyperf, plots."""
