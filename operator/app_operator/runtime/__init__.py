"""The runtime, the only code that does I/O: kopf handlers, informers, the work queue, the
reconcile, leader election, metrics."""
