package tempo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/golden"
	"github.com/tempo-coordinator/coordinator/internal/testenv/prereq"
)

type configCase struct {
	name string
	in   func(t *testing.T) *coordinator.RenderInput
	// retention is retention-period; 0 for the default.
	retention int
	// remoteWrite are the remote-write URLs.
	remoteWrite []string
	// checks are path → expected value assertions on the parsed YAML, so
	// that a regenerated golden file cannot hide a broken rule.
	checks map[string]any
}

func baseInput(c coordinator.Cluster) *coordinator.RenderInput {
	return &coordinator.RenderInput{
		Cluster: c,
		S3:      testS3(),
		AppFQDN: "tempo.m.svc.cluster.local",
		Model:   "m",
		App:     "tempo",
	}
}

// remoteWrite are what Prometheus offers; proxiedRemoteWrite what the
// metrics-generator is given: the worker telemetry proxy's URLs.
var (
	remoteWrite = []string{
		"http://prometheus-0.prometheus-endpoints.m.svc.cluster.local:9090/api/v1/write",
		"http://prometheus-1.prometheus-endpoints.m.svc.cluster.local:9090/api/v1/write",
	}
	proxiedRemoteWrite = []string{
		"http://tempo.m.svc.cluster.local:3300/proxy/remote-write/prometheus-0/write",
		"http://tempo.m.svc.cluster.local:3300/proxy/remote-write/prometheus-1/write",
	}
)

func configCases() []configCase {
	worker0 := fqdn("tempo-worker", 0)
	return []configCase{{
		name: "monolithic",
		in:   func(t *testing.T) *coordinator.RenderInput { return baseInput(monolithic(t)) },
		checks: map[string]any{
			"compactor.compaction.block_retention":                 "720h",
			"ingester.lifecycler.ring.replication_factor":          1,
			"memberlist.join_members":                              []any{worker0 + ":7946"},
			"memberlist.bind_port":                                 7946,
			"querier.frontend_worker.frontend_address":             "localhost:9096",
			"storage.trace.s3.insecure":                            true,
			"storage.trace.s3.region":                              nil,
			"storage.trace.s3.tls_ca_path":                         nil,
			"storage.trace.s3.forcepathstyle":                      nil,
			"storage.trace.wal.path":                               "/etc/tempo/tempo_wal",
			"metrics_generator":                                    nil,
			"overrides":                                            nil,
			"server.http_tls_config":                               nil,
			"distributor.receivers.zipkin.endpoint":                "0.0.0.0:9411",
			"distributor.receivers.jaeger.protocols.grpc.endpoint": "0.0.0.0:14250",
		},
	}, {
		name:      "distributed",
		retention: 48,
		in:        func(t *testing.T) *coordinator.RenderInput { return baseInput(distributed(t)) },
		checks: map[string]any{
			"compactor.compaction.block_retention":        "48h",
			"ingester.lifecycler.ring.replication_factor": 1,
			"querier.frontend_worker.frontend_address":    "tempo-query-frontend-endpoints.m.svc.cluster.local:9096",
			"memberlist.join_members": []any{
				fqdn("tempo-compactor", 0) + ":7946",
				fqdn("tempo-distributor", 0) + ":7946",
				fqdn("tempo-ingester", 0) + ":7946",
				fqdn("tempo-metrics-generator", 0) + ":7946",
				fqdn("tempo-querier", 0) + ":7946",
				fqdn("tempo-query-frontend", 0) + ":7946",
			},
		},
	}, {
		name: "three-ingesters",
		in: func(t *testing.T) *coordinator.RenderInput {
			rels := []coordinator.Relation{
				workerRelation(1, "tempo-ingester", "ingester", fqdn("tempo-ingester", 0), fqdn("tempo-ingester", 1), fqdn("tempo-ingester", 2)),
				workerRelation(2, "tempo-querier", "querier", fqdn("tempo-querier", 0)),
				workerRelation(3, "tempo-query-frontend", "query-frontend", fqdn("tempo-query-frontend", 0), fqdn("tempo-query-frontend", 1)),
				workerRelation(4, "tempo-distributor", "distributor", fqdn("tempo-distributor", 0)),
				workerRelation(5, "tempo-compactor", "compactor", fqdn("tempo-compactor", 0)),
			}
			return baseInput(cluster(t, rels...))
		},
		checks: map[string]any{
			"ingester.lifecycler.ring.replication_factor": 3,
			"querier.frontend_worker.frontend_address":    "tempo-query-frontend-endpoints.m.svc.cluster.local:9096",
		},
	}, {
		name: "multi-role",
		in: func(t *testing.T) *coordinator.RenderInput {
			rels := []coordinator.Relation{
				workerRelation(1, "tempo-read", "querier,query-frontend", fqdn("tempo-read", 0), fqdn("tempo-read", 1)),
				workerRelation(2, "tempo-write", "distributor,ingester", fqdn("tempo-write", 0)),
				workerRelation(3, "tempo-backend", "compactor,metrics-generator", fqdn("tempo-backend", 0)),
			}
			return baseInput(cluster(t, rels...))
		},
		checks: map[string]any{
			// Every querier also runs a query-frontend: each talks to its own.
			"querier.frontend_worker.frontend_address":    "localhost:9096",
			"ingester.lifecycler.ring.replication_factor": 1,
		},
	}, {
		name: "no-metrics-generator",
		in:   func(t *testing.T) *coordinator.RenderInput { return baseInput(distributed(t, RoleMetricsGenerator)) },
		checks: map[string]any{
			"metrics_generator": nil,
			"overrides":         nil,
		},
	}, {
		name:        "remote-write",
		in:          func(t *testing.T) *coordinator.RenderInput { return baseInput(distributed(t)) },
		remoteWrite: remoteWrite,
		checks: map[string]any{
			"metrics_generator.storage.path":                  "/etc/tempo/metrics_generator_wal",
			"metrics_generator.storage.remote_write":          []any{map[string]any{"url": proxiedRemoteWrite[0]}, map[string]any{"url": proxiedRemoteWrite[1]}},
			"metrics_generator.ring.kvstore.store":            "memberlist",
			"overrides.defaults.metrics_generator.processors": []any{"span-metrics", "service-graphs"},
		},
	}, {
		name: "tls",
		in: func(t *testing.T) *coordinator.RenderInput {
			in := baseInput(distributed(t))
			in.TLS = testTLS()
			return in
		},
		remoteWrite: remoteWrite[:1],
		checks: map[string]any{
			"server.http_tls_config.cert_file":                           TLSCertPath,
			"server.grpc_tls_config.client_auth_type":                    "VerifyClientCertIfGiven",
			"distributor.receivers.otlp.protocols.grpc.tls.cert_file":    TLSCertPath,
			"distributor.receivers.zipkin.tls.key_file":                  TLSKeyPath,
			"ingester_client.grpc_client_config.tls_enabled":             true,
			"metrics_generator_client.grpc_client_config.tls_ca_path":    TLSCAPath,
			"querier.frontend_worker.grpc_client_config.tls_server_name": fqdn("tempo-compactor", 0),
			"memberlist.tls_enabled":                                     true,
			"memberlist.tls_server_name":                                 fqdn("tempo-compactor", 0),
			"metrics_generator.storage.remote_write": []any{map[string]any{
				"url":        "https://tempo.m.svc.cluster.local:3300/proxy/remote-write/prometheus-0/write",
				"tls_config": map[string]any{"ca_file": TLSCAPath, "insecure_skip_verify": false},
			}},
		},
	}, {
		name: "s3-ca",
		in: func(t *testing.T) *coordinator.RenderInput {
			in := baseInput(monolithic(t))
			in.S3 = &coordinator.S3{
				Endpoint: "s3.example.com", Bucket: "traces", AccessKey: "AK", SecretKey: "SK",
				Region: "eu-west-1", CAChain: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",
			}
			return in
		},
		checks: map[string]any{
			"storage.trace.s3.tls_ca_path": S3CAPath,
			"storage.trace.s3.region":      "eu-west-1",
			"storage.trace.s3.insecure":    false,
			"storage.trace.s3.endpoint":    "s3.example.com",
		},
	}, {
		name: "s3-path-style",
		in: func(t *testing.T) *coordinator.RenderInput {
			in := baseInput(monolithic(t))
			in.S3.PathStyle = true
			return in
		},
		checks: map[string]any{"storage.trace.s3.forcepathstyle": true},
	}, {
		name: "ipv6",
		in: func(t *testing.T) *coordinator.RenderInput {
			rels := []coordinator.Relation{
				workerRelation(1, "tempo-read", "querier", "fd00::11"),
				workerRelation(2, "tempo-frontend", "query-frontend", "fd00::12"),
				workerRelation(3, "tempo-write", "distributor,ingester,compactor", "fd00::13"),
			}
			return baseInput(cluster(t, rels...))
		},
		checks: map[string]any{
			"memberlist.join_members":                  []any{"[fd00::11]:7946", "[fd00::12]:7946", "[fd00::13]:7946"},
			"querier.frontend_worker.frontend_address": "[fd00::12]:9096",
		},
	}}
}

func TestWorkerConfigGolden(t *testing.T) {
	for _, tc := range configCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := renderCase(t, tc)
			again := renderCase(t, tc)
			if !bytes.Equal(got, again) {
				t.Fatal("two renders of the same input differ")
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".yaml"), got)
			var parsed map[string]any
			if err := yaml.Unmarshal(got, &parsed); err != nil {
				t.Fatalf("rendered config is not YAML: %v", err)
			}
			for path, want := range tc.checks {
				got, ok := lookup(parsed, path)
				if want == nil {
					if ok {
						t.Errorf("%s = %#v, want it absent", path, got)
					}
					continue
				}
				if !ok {
					t.Errorf("%s is absent, want %#v", path, want)
				} else if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

func renderCase(t *testing.T, tc configCase) []byte {
	t.Helper()
	config := map[string]any{}
	if tc.retention != 0 {
		config[OptionRetentionPeriod] = float64(tc.retention)
	}
	p := NewPlan(&coordinator.Observed{Config: config})
	if statuses := p.Statuses(nil); len(statuses) > 0 {
		t.Fatalf("invalid options: %v", statuses)
	}
	p.RemoteWriteURLs = tc.remoteWrite
	out, err := p.WorkerConfig(tc.in(t))
	if err != nil {
		t.Fatalf("WorkerConfig: %v", err)
	}
	return out
}

// lookup follows a dotted path through nested YAML mappings.
func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for key := range strings.SplitSeq(path, ".") {
		node, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = node[key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// tempoBinary finds the real Tempo built by scripts/build-workloads.
func tempoBinary(t *testing.T) string {
	t.Helper()
	prereq.Heavy(t)
	bin := os.Getenv("TEMPO_BIN")
	if bin == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			prereq.Missing(t, "no TEMPO_BIN and no home directory (%v): run scripts/build-workloads tempo", err)
		}
		bin = filepath.Join(home, ".cache", "coordinator-workloads", "bin", "tempo")
	}
	if _, err := os.Stat(bin); err != nil {
		prereq.Missing(t, "real Tempo not found at %s: run scripts/build-workloads tempo (or set TEMPO_BIN)", bin)
	}
	return bin
}

// TestTempoVerifiesGoldens runs the real `tempo -config.verify=true` on
// every golden file: strict YAML (no unknown keys) and no config warnings.
func TestTempoVerifiesGoldens(t *testing.T) {
	bin := tempoBinary(t)
	for _, tc := range configCases() {
		t.Run(tc.name, func(t *testing.T) {
			golden, err := filepath.Abs(filepath.Join("testdata", tc.name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "-config.file="+golden, "-config.verify=true")
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("tempo rejected %s: %v\n%s", golden, err, out)
			}
		})
	}
}

// TestTempoRejectsBrokenConfig proves the verify test can fail.
func TestTempoRejectsBrokenConfig(t *testing.T) {
	bin := tempoBinary(t)
	good, err := os.ReadFile(filepath.Join("testdata", "monolithic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, append(good, []byte("no_such_tempo_option: true\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config.file="+broken, "-config.verify=true")
	cmd.Dir = t.TempDir()
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("tempo accepted a config with an unknown key:\n%s", out)
	}
}

func TestReplicationFactor(t *testing.T) {
	units := func(app string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fqdn(app, i))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		rels []coordinator.Relation
		want int
	}{
		{"one ingester", []coordinator.Relation{workerRelation(1, "i", "ingester", units("i", 1)...)}, 1},
		{"two ingesters", []coordinator.Relation{workerRelation(1, "i", "ingester", units("i", 2)...)}, 1},
		{"three ingesters", []coordinator.Relation{workerRelation(1, "i", "ingester", units("i", 3)...)}, 3},
		{"four ingesters", []coordinator.Relation{workerRelation(1, "i", "ingester", units("i", 4)...)}, 3},
		{"three across apps", []coordinator.Relation{
			workerRelation(1, "i", "ingester", units("i", 2)...),
			workerRelation(2, "w", "all", units("w", 1)...),
		}, 3},
		{"three units, two of them ingesters", []coordinator.Relation{
			workerRelation(1, "i", "ingester", units("i", 2)...),
			workerRelation(2, "q", "querier", units("q", 1)...),
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := RenderConfig(baseInput(cluster(t, tc.rels...)), DefaultRetentionHours, nil)
			if err != nil {
				t.Fatal(err)
			}
			var parsed map[string]any
			if err := yaml.Unmarshal(out, &parsed); err != nil {
				t.Fatal(err)
			}
			if got, _ := lookup(parsed, "ingester.lifecycler.ring.replication_factor"); got != tc.want {
				t.Errorf("replication_factor = %v, want %d", got, tc.want)
			}
		})
	}
}
