"""A released name: template versions before the folders (up to 9af8fd6) name this module in ``_jinja_extensions``.

copier renders a project's recorded template version with the installed generator during an upgrade, so this name
stays importable for as long as such projects may be upgraded. New template versions name
:mod:`generator.templating.copier_extension`.
"""

from generator.templating.copier_extension import AzsScaffoldExtension

__all__ = ["AzsScaffoldExtension"]
