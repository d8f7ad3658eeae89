"""Analysis of a batch of runs: statistics of repeats and comparisons (`stats`), effects of swept
settings (`effects`) and the headline comparison between pipeline families (`compare`)."""
