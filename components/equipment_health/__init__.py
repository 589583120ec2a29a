"""设备健康 — rotating equipment bearing health (mechanism + learned component, ONNX).

The component is `components.equipment_health.component.EquipmentHealth`.
"""
