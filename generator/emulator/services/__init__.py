"""Resource Manager services of the emulator, one module per provider (moto's layout, per service):
each declares its routes, keeps its state in the shared store and shapes its own responses; the named
errors live in ``generator/emulator/arm_errors.py``."""
