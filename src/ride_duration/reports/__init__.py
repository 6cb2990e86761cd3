"""Reports: plots, the homework's answers, and the tables the command line prints."""
