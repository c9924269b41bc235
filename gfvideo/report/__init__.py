"""Per-clip compute reports: every exit evaluated once, budgets applied, tables and plots written, a page to browse."""
from .clips import ClipTable, collect
from .html import write_html
from .writer import default_budgets, fitted_rules, write_report

__all__ = ['ClipTable', 'collect', 'default_budgets', 'fitted_rules', 'write_html', 'write_report']
