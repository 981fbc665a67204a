"""Benchmarks of the register: `python bench/run.py` runs every scenario and writes bench/results/."""
