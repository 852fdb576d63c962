"""Benchmark harnesses behind ``twin bench``: they measure and print, they never gate tests."""
