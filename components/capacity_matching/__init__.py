"""产能共享 — matching demand orders to spare capacity (knowledge component, formula runtime).

The component is `components.capacity_matching.component.CapacityMatching`; this package stays import-light
so that the formula runtime can load `formula` without torch.
"""
