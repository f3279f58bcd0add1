package juju

// UseForkExec makes the runner start tools with syscall.ForkExec, the
// fallback of its spawner.
func UseForkExec(r *ProcessRunner) { r.spawner.disable() }

// UsesSpawner reports whether the runner still starts tools with its fast
// spawner.
func UsesSpawner(r *ProcessRunner) bool { return r.spawner.enabled() }
