package coordinator

// ProfilingDatabags exposes profilingDatabags to the black-box tests, which
// feed it inputs Reconcile cannot build yet (TLS).
var ProfilingDatabags = profilingDatabags

// IsRootCA exposes isRootCA, which decides whether nginx verifies the
// workers' certificates.
var IsRootCA = isRootCA
