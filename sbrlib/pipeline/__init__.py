"""Pipeline: the run driver (make run-all), time plan, HTML report, result records, CLI."""
