"""Plots and reports. Plotting is stateless: functions take results and an optional ``ax``."""
