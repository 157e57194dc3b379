"""Results on disk: the only code that reads or writes run, sweep and sensitivity folders."""
