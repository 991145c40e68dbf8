"""Resource Manager services of the emulator, one module per provider (moto's layout, per service): each
declares its routes and its resource types (``resource_types()``), keeps its section of the state
(``state.StateData``) behind a backend of typed methods that its handlers call, and shapes its own
responses; the named errors live in ``azs_emulator/arm_errors.py``. ``registry.py`` is the one table of them: how
each is built, their order, the sections each owns. docs/emulator.md ("How a service owns its state") shows the
pattern in a few lines."""
