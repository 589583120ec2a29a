"""用电量转核算台账 — a day's electricity use as a greenhouse-gas ledger (an adapter, formula runtime).

It joins `energy_forecast` to `carbon_accounting` in the built-in pipeline `energy_carbon_forecast`
(components/pipelines). The component is `components.electricity_ledger.component.ElectricityLedger`;
this package stays import-light so that the formula runtime can load `formula` without torch.
"""
