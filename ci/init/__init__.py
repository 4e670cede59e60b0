"""``dbci init``: adopt dbci in an Alembic project as it stands.

`scheme` finds the ``[tool.dbci]`` naming settings that make lint pass on the history (and
proves it, running lint), `pyproject` merges them into pyproject.toml keeping everything else,
`render` fills the workflows and the Makefile include from ``ci/templates/``, and `adoption`
puts it all together as a plan: each file with its content and whether it changes, the settings
and why, env.py's verdict (``ci.env_code``). Nothing here prints or writes, but `templates`,
the tool of a source checkout that carries a change of dbci's own workflows into the templates
(``make templates``).
"""
