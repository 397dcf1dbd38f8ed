"""Change requests as sagas: checks, a plan with its blast radius, approval gates, actions with
compensations, per-target results, locks; resumable after a crash.
"""
