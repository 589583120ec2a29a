"""工艺质量 — reactor quality prediction and setting recommendation (process components, ONNX).

The components are `ProcessQuality` and `ProcessSettingRecommender` in `components.process_quality.component`.
"""
