"""碳排放核算 — enterprise greenhouse-gas accounting (mechanism component, formula runtime).

The component is `components.carbon_accounting.component.CarbonAccounting`; this package stays import-light
so that the formula runtime can load `formula` without torch.
"""
