"""能耗预测 — enterprise and park electricity load forecast (process component, ONNX).

The component is `components.energy_forecast.component.EnergyForecast`.
"""
