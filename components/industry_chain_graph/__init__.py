"""产业链图谱 — the graph of Shandong's 11 flagship industry chains (knowledge, formula runtime).

The component is `components.industry_chain_graph.component.IndustryChainGraph`; this package stays
import-light so that the formula runtime can load `formula` without torch.
"""
