"""`app-operator up` and `down`: a compose project's Apps applied to a cluster, waited for,
and removed again, like `docker compose up` / `down` (convert/ makes the Apps; this package
only talks to the cluster and shows progress).

  project.py   the project's name and the label that marks what `up` applied
  cluster.py   the cluster of a kubeconfig context: apply, list and delete any kind
  up.py        apply a project's objects
  down.py      remove them, keeping claims unless asked
  progress.py  one line per App, from its status (pure: no client)
"""
