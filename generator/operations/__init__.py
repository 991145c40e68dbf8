"""What the commands of ``azs-scaffold`` do, as a library (``generator/commands/<command>.py`` declares a command's options,
reads them into a typed object and calls these):

- ``render``: ``new`` (discover, then copier's ``run_copy``), and the rendering batch and upgrade share;
- ``copier_process``: ``new``'s copier in a process of its own, started before discovery (a second core);
- ``copier_worker``: copier's worker with what it repeats done once, and the template cloned ahead;
- ``batch``: ``new --batch``, many teams, one discovery per Stack;
- ``upgrade``: ``upgrade`` (plan, dry run, copier's ``run_update``) and the template's refresh migration;
- ``fleet``: ``upgrade --all``, every project under a folder checked or upgraded on its own; ``--json``'s report;
- ``doctor`` (requirements, the whole run, ``--fix``), ``doctor_code``, ``doctor_environment``, ``doctor_templates``,
  ``doctor_capabilities``, ``doctor_findings``: ``doctor``, findings for a hand-written project and its ARM templates
  (checked against what a Stack serves);
- ``demo``: ``demo``, an emulator, a project, its bootstrap and a sample in one go;
- ``project_emulator``: ``emulator --for-project``, the project's release, identity system and settings overlay;
- ``report``: what ``discover`` and ``new`` print of a discovery;
- ``wheelhouse``: ``wheelhouse``, a project's locked set downloaded for other machines.

Each is imported only when its command runs (``--help`` stays light); nothing outside this folder but the command
line imports one (``tests/test_layout.py``).
"""

__all__ = ["batch", "copier_process", "copier_worker", "demo", "doctor", "doctor_capabilities", "doctor_code",
           "doctor_environment", "doctor_findings", "doctor_templates", "fleet", "project_emulator", "render", "report",
           "upgrade", "wheelhouse"]
