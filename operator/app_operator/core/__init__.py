"""The pure core: the App model, the desired children, drift, status, the CRD. No I/O, no kopf, no
Kubernetes client: tested on plain dicts."""
