"""shopbot's benchmarks: each module is one command (`python bench/<name>.py` or `python -m bench.<name>`).

`bench/run_all.py` runs the suite in sequence; `bench/README.md` says what each measures.
"""
