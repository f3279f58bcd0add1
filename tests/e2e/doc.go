// Package e2e proves that the coordinator charm configures real clusters.
//
// Each scenario (a Go test) builds, on one machine and without Kubernetes:
//
//   - a private network: a hub network namespace holding a Linux bridge,
//     one network namespace per worker unit (a "pod" with its own eth0
//     address) and a veth from the coordinator sandbox's namespace into
//     the same bridge;
//   - an in-process S3 server (gofakes3) listening on the hub's bridge
//     address, published as the s3-integrator would publish it;
//   - the coordinator: the built dispatch binary driven hook by hook by the
//     jujusim Harness, with real Pebble and real nginx in a sandbox, and a
//     second Pebble running the real nginx-prometheus-exporter in the same
//     network namespace (the pod's second container);
//   - the workers: one real Tempo or Pyroscope process per simulated worker
//     unit, run inside that unit's namespace with the configuration the
//     coordinator published, changed only as the worker charm changes it.
//
// Traces and profiles are then sent through the coordinator's nginx and
// read back through it. The tests need root, nginx, unshare, ip and the
// workload binaries (`make workloads`); they skip with the reason otherwise,
// and in -short mode.
//
// Run: `make e2e`, or `go test -v ./tests/e2e/` (about 6 minutes on two
// cores). Environment: TEMPO_BIN, PYROSCOPE_BIN, TRAEFIK_BIN,
// NGINX_EXPORTER_BIN (default: the `make workloads` cache), DISPATCH_BIN (default: cmd/dispatch built once per
// run), E2E_LOGS=<dir> to keep every workload's log.
//
// Host footprint: namespaces named e2e-<pid>-<n> (deleted in cleanups;
// those of a killed run are deleted by the next run), and the empty
// mount-point directories /etc/tempo, /etc/worker,
// /usr/local/share/ca-certificates (where the Tempo worker charm writes the
// TLS files) and /pyroscope-data, created if missing and never written to
// from the host's mount namespace.
package e2e
