"""What theory says about a run: closed forms, confidence bands, availability in nines, N-1."""
