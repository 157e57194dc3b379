"""Views of results: numbers, labels, figures, the report and the terminal tables."""
