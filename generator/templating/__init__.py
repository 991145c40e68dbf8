"""The generator's side of the copier template (``copier.yml``, ``template/``):

- ``answers``: what discovery reads from the answers, the answers it computes, the rules an answer follows;
- ``copier_extension``: the Jinja globals ``copier.yml`` names (``_jinja_extensions``), adapting the above;
- ``template_source``: where copier finds the template and what a project records of it;
- ``template_cache``: the user cache of template clones, pruned of those unused for a month;
- ``template_version``: which template version an upgrade renders, and whether it is the one a project records;
- ``secret_files``: the service principal file, written private from its first byte (the template's task);
- ``migrations``: the template's migrations between releases (answer renames);
- ``project_files``: a generated project's answers file and CA file.
"""

__all__ = ["answers", "copier_extension", "migrations", "project_files", "secret_files", "template_cache", "template_source", "template_version"]
