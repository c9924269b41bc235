"""Per-clip compute reports: every exit evaluated once, budgets applied, tables and plots written."""
from .clips import ClipTable, collect
from .writer import default_budgets, fitted_rules, write_report

__all__ = ['ClipTable', 'collect', 'default_budgets', 'fitted_rules', 'write_report']
