"""The loop, run by itself: a Prefect flow per month and the schedule that runs it (the
[orchestrate] extra). Nothing else in the package imports Prefect."""
