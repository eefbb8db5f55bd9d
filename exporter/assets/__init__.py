"""What a pip user needs to set up Prometheus and Grafana, shipped in the wheel as package data.

``alerts``, ``dashboards`` and ``runbooks`` are symlinks to the repository's ``alerts/``,
``dashboards/`` and ``docs/runbooks/`` (one copy in the tree; setuptools copies their content into
the wheel). ``ndo-exporter assets export DIR`` writes them out (exporter/commands/assets.py).
"""
