"""Reading runs and matches into numbers: intervals, ratings, plots (issue 6 grows this)."""
