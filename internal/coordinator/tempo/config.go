package tempo

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// Paths on the worker, where the worker charm writes the files the
// coordinator sends it.
const (
	TLSCertPath   = "/etc/worker/server.cert"
	TLSKeyPath    = "/etc/worker/private.key"
	TLSCAPath     = "/usr/local/share/ca-certificates/ca.crt"
	S3CAPath      = "/etc/worker/s3_ca.crt"
	WALPath       = "/etc/tempo/tempo_wal"
	GeneratorPath = "/etc/tempo/metrics_generator_wal"
)

// tree is a YAML mapping; yaml.v3 marshals map keys sorted, so the output
// is deterministic.
type tree = map[string]any

// RenderConfig renders the Tempo configuration every worker runs, whatever
// its role: blocks kept retentionHours, span metrics pushed to every
// remoteWrite URL (no metrics-generator section without one). in.S3 must be
// set: Tempo cannot run without it, and the engine renders only then.
func RenderConfig(in *coordinator.RenderInput, retentionHours int, remoteWrite []string) ([]byte, error) {
	byRole := in.AddressesByRole()
	addresses := in.Cluster.Addresses()
	tlsOn := in.TLS != nil

	ingesterRing := coordinator.MemberlistRing()
	ingesterRing["replication_factor"] = coordinator.ReplicationFactor(len(byRole[RoleIngester]))

	cfg := tree{
		"auth_enabled": false,
		"server":       serverConfig(tlsOn),
		"distributor": tree{
			"receivers": receiversConfig(tlsOn),
			"ring":      coordinator.MemberlistRing(),
		},
		// The ingester cuts its head block at Tempo's own max_block_bytes
		// (500 MiB, modules/ingester/config.go) or after
		// max_block_duration. The reference's max_block_bytes: 100 cut a
		// block at every flush check (10s) that found a trace: under a
		// steady trickle, 8640 blocks a day per ingester, each several
		// S3 objects for the compactor to merge again. Measured by
		// tests/e2e TestTempoBlocks: 1000 spans sent over 36s leave 1
		// block (4 objects) in S3, 4 blocks (16 objects) with 100.
		"ingester": tree{
			"trace_idle_period":  "10s",
			"max_block_duration": "30m",
			"lifecycler":         tree{"ring": ingesterRing},
		},
		"memberlist": tree{
			"abort_if_cluster_join_fails": false,
			"bind_port":                   MemberlistPort,
			"join_members":                coordinator.JoinMembers(addresses, MemberlistPort),
			"tls_enabled":                 false,
		},
		"compactor": tree{
			"ring": coordinator.MemberlistRing(),
			"compaction": tree{
				"compaction_window":         "1h",
				"max_compaction_objects":    1000000,
				"block_retention":           fmt.Sprintf("%dh", retentionHours),
				"compacted_block_retention": "1h",
			},
		},
		"querier": tree{
			"frontend_worker": tree{"frontend_address": FrontendAddress(byRole)},
		},
		"storage": tree{"trace": traceStorage(in.S3)},
	}

	if len(remoteWrite) > 0 {
		cfg["metrics_generator"] = generatorConfig(remoteWrite, tlsOn, coordinator.MemberlistRing())
		cfg["overrides"] = tree{
			"defaults": tree{
				"metrics_generator": tree{"processors": []string{"span-metrics", "service-graphs"}},
			},
		}
	}

	if tlsOn {
		// The workers' clients verify every peer against one name; all
		// workers serve the same certificate, so any name it holds works.
		// The first worker address it holds, then: while a new certificate
		// is pending (a worker joined) the one served does not hold the
		// new worker's address, and that address may sort first.
		serverName := ""
		if len(addresses) > 0 {
			serverName = addresses[0]
		}
		for _, a := range addresses {
			if in.TLS.Covers(a) {
				serverName = a
				break
			}
		}
		clientTLS := func() tree {
			return tree{
				"tls_enabled":     true,
				"tls_cert_path":   TLSCertPath,
				"tls_key_path":    TLSKeyPath,
				"tls_ca_path":     TLSCAPath,
				"tls_server_name": serverName,
			}
		}
		cfg["ingester_client"] = tree{"grpc_client_config": clientTLS()}
		cfg["metrics_generator_client"] = tree{"grpc_client_config": clientTLS()}
		cfg["querier"].(tree)["frontend_worker"].(tree)["grpc_client_config"] = clientTLS()
		maps.Copy(cfg["memberlist"].(tree), clientTLS())
	}

	out, err := coordinator.RenderYAML(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot render the tempo config: %w", err)
	}
	return out, nil
}

func serverConfig(tlsOn bool) tree {
	server := tree{
		"http_listen_port": HTTPPort,
		"grpc_listen_port": GRPCPort,
	}
	if tlsOn {
		for _, key := range []string{"http_tls_config", "grpc_tls_config"} {
			server[key] = tree{
				"cert_file":        TLSCertPath,
				"key_file":         TLSKeyPath,
				"client_ca_file":   TLSCAPath,
				"client_auth_type": "VerifyClientCertIfGiven",
			}
		}
	}
	return server
}

// receiversConfig enables every receiver on every worker: only the
// requested ones are routed by nginx and opened on the pods.
func receiversConfig(tlsOn bool) tree {
	endpoint := func(r Receiver) tree {
		t := tree{"endpoint": fmt.Sprintf("0.0.0.0:%d", r.Port())}
		if tlsOn {
			t["tls"] = tree{"ca_file": TLSCAPath, "cert_file": TLSCertPath, "key_file": TLSKeyPath}
		}
		return t
	}
	return tree{
		"zipkin": endpoint(Zipkin),
		"otlp": tree{"protocols": tree{
			"grpc": endpoint(OTLPGRPC),
			"http": endpoint(OTLPHTTP),
		}},
		"jaeger": tree{"protocols": tree{
			"grpc":        endpoint(JaegerGRPC),
			"thrift_http": endpoint(JaegerThriftHTTP),
		}},
	}
}

func traceStorage(s3 *coordinator.S3) tree {
	s3cfg := s3.Tree(coordinator.S3Keys{
		Bucket: "bucket", Endpoint: "endpoint", AccessKey: "access_key",
		SecretKey: "secret_key", Insecure: "insecure", Region: "region",
	})
	if s3.CAChain != "" {
		s3cfg["tls_ca_path"] = S3CAPath
	}
	if s3.PathStyle {
		s3cfg["forcepathstyle"] = true
	}
	return tree{
		"backend": "s3",
		"s3":      s3cfg,
		"wal":     tree{"path": WALPath},
		"pool":    tree{"max_workers": 400, "queue_depth": 20000},
		// vParquet3 or later is needed for search (Grafana).
		"block": tree{"version": "vParquet3"},
	}
}

func generatorConfig(urls []string, tlsOn bool, ring tree) tree {
	remoteWrite := make([]tree, 0, len(urls))
	for _, u := range urls {
		rw := tree{"url": u}
		if tlsOn {
			rw["tls_config"] = tree{"ca_file": TLSCAPath, "insecure_skip_verify": false}
		}
		remoteWrite = append(remoteWrite, rw)
	}
	return tree{
		"ring": ring,
		"processor": tree{
			"service_graphs": tree{},
			"span_metrics":   tree{},
		},
		"storage": tree{
			"path":         GeneratorPath,
			"remote_write": remoteWrite,
		},
	}
}

// FrontendAddress is where queriers find the query-frontends, given the
// worker addresses by role:
//   - "localhost:9096" when there is no query-frontend, or when every querier
//     also runs a query-frontend (monolithic and multi-role workers talk to
//     their own);
//   - otherwise the headless service of the first (sorted) query-frontend
//     address, i.e. that address without its first DNS label, so that the
//     queriers spread over every pod of that worker application. An IP
//     address or a single-label name has no service to derive and is used
//     as is (the reference stripped the first octet of an IPv4 address).
func FrontendAddress(byRole map[string][]string) string {
	address, _ := frontendWiring(byRole)
	return address
}

// QueriedFrontends are the query-frontend addresses that have queriers
// attached (see FrontendAddress), sorted: with "localhost", those that
// also run a querier; otherwise those behind the chosen headless service.
// nginx must send queries to these only, since a query-frontend no querier
// is attached to holds every query until it times out — as happens while
// query-frontends of several applications coexist, e.g. in the middle of
// a monolithic to distributed transition.
func QueriedFrontends(byRole map[string][]string) []string {
	_, queried := frontendWiring(byRole)
	return queried
}

// frontendWiring decides both FrontendAddress and QueriedFrontends, so
// that the queriers' target and nginx's query route cannot disagree.
func frontendWiring(byRole map[string][]string) (address string, queried []string) {
	frontends := slices.Sorted(slices.Values(byRole[RoleQueryFrontend]))
	queriers := make(map[string]bool, len(byRole[RoleQuerier]))
	for _, q := range byRole[RoleQuerier] {
		queriers[q] = true
	}
	colocated := true
	isFrontend := make(map[string]bool, len(frontends))
	for _, f := range frontends {
		isFrontend[f] = true
	}
	for q := range queriers {
		if !isFrontend[q] {
			colocated = false
			break
		}
	}
	if len(frontends) == 0 || colocated {
		return coordinator.HostPort("localhost", GRPCPort),
			slices.DeleteFunc(frontends, func(f string) bool { return !queriers[f] })
	}
	service := headlessService(frontends[0])
	return coordinator.HostPort(service, GRPCPort),
		slices.DeleteFunc(frontends, func(f string) bool { return headlessService(f) != service })
}

func headlessService(addr string) string {
	if _, err := netip.ParseAddr(addr); err == nil {
		return addr
	}
	_, rest, found := strings.Cut(strings.TrimSuffix(addr, "."), ".")
	if !found || rest == "" {
		return addr
	}
	return rest
}
