"""The control plane: every table of the control store (the SQLite file the API, the worker
and the pipeline share for live state) is read and written here and nowhere else."""
