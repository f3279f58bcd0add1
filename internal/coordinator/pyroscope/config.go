package pyroscope

import (
	"fmt"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// DataPath is where Pyroscope workers keep their local data.
const DataPath = "/pyroscope-data"

// tree is a YAML mapping; yaml.v3 writes map keys sorted, so the output is
// deterministic.
type tree = map[string]any

// RenderConfig renders the Pyroscope (v1.21) configuration every worker
// runs, whatever its roles. in.S3 must be set: Pyroscope cannot run
// without it, and the engine renders only then.
//
// There is no TLS in it: Pyroscope has no end-to-end TLS
// (grafana/pyroscope#3598), so nginx terminates TLS and talks plain HTTP
// to the workers. Nor is there a CA for S3: Pyroscope's S3 client has no
// option for one (see s3Config).
func RenderConfig(in *coordinator.RenderInput, opts Options) ([]byte, error) {
	byRole := in.AddressesByRole()

	ingesterRing := coordinator.MemberlistRing()
	ingesterRing["replication_factor"] = coordinator.ReplicationFactor(len(byRole[RoleIngester]))
	storeGatewayRing := coordinator.MemberlistRing()
	storeGatewayRing["replication_factor"] = coordinator.ReplicationFactor(len(byRole[RoleStoreGateway]))

	cfg := tree{
		"server":      tree{"http_listen_port": HTTPPort},
		"distributor": tree{"ring": coordinator.MemberlistRing()},
		"ingester":    tree{"lifecycler": tree{"ring": ingesterRing}},
		"store_gateway": tree{
			"sharding_ring": storeGatewayRing,
		},
		"compactor": tree{
			"cleanup_interval": goDuration(opts.CleanupInterval),
			"deletion_delay":   goDuration(opts.DeletionDelay),
			"sharding_ring":    coordinator.MemberlistRing(),
		},
		"limits": tree{
			"compactor_blocks_retention_period": modelDuration(opts.RetentionPeriod),
			"ingestion_burst_size_mb":           IngestionBurstSizeMB,
		},
		"memberlist": tree{
			"bind_port":    MemberlistPort,
			"join_members": coordinator.JoinMembers(in.Cluster.Addresses(), MemberlistPort),
		},
		"pyroscopedb": tree{"data_path": DataPath},
		"storage": tree{
			"backend": "s3",
			"s3":      s3Config(in.S3),
		},
	}
	// With Parca related, Parca takes the workers' CPU profiles
	// (/debug/pprof/profile). A worker with role all otherwise pushes
	// profiles of itself to itself with the Go SDK, whose CPU profiler
	// then holds Go's only one: Parca's scrape would get a 500 ("cpu
	// profiling already in use"). Without Parca, the self-profiling stays.
	if len(in.Relations[coordinator.ParcaScrapeEndpoint]) > 0 {
		cfg["self_profiling"] = tree{"disable_push": true}
	}
	// Behind an ingress that routes a path prefix, the UI must build its
	// links under that prefix.
	if base := coordinator.IngressPath(in); base != "" {
		cfg["api"] = tree{"base-url": base}
	}
	out, err := coordinator.RenderYAML(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot render the pyroscope config: %w", err)
	}
	return out, nil
}

// s3Config is Pyroscope's storage.s3 block.
//
// Path-style addressing is bucket_lookup_type: path-style
// (force_path_style still works but is deprecated and logs a warning).
//
// A custom CA (in.S3.CAChain) cannot be set here: in Pyroscope v1.21.1 the
// S3 client (pkg/objstore/providers/s3) has no CA option, only
// http.insecure_skip_verify, and refuses unknown keys. The engine still
// sends the chain to the workers (s3_tls_ca_chain), which must add it to
// the system trust store (e.g. SSL_CERT_FILE) for Go's TLS to use it.
func s3Config(s3 *coordinator.S3) tree {
	out := s3.Tree(coordinator.S3Keys{
		Bucket: "bucket_name", Endpoint: "endpoint", AccessKey: "access_key_id",
		SecretKey: "secret_access_key", Insecure: "insecure", Region: "region",
	})
	if s3.PathStyle {
		out["bucket_lookup_type"] = "path-style"
	}
	return out
}
