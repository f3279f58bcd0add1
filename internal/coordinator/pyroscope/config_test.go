package pyroscope

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// flatten decodes a YAML document into its leaves, keyed by dotted path
// ("server.http_listen_port"). Lists are leaves.
func flatten(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	var root map[string]any
	if err := yaml.Unmarshal(doc, &root); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, doc)
	}
	leaves := map[string]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, isMap := v.(map[string]any)
		if !isMap {
			leaves[prefix] = v
			return
		}
		for k, child := range m {
			walk(strings.TrimPrefix(prefix+"."+k, "."), child)
		}
	}
	walk("", root)
	return leaves
}

// rendered reports whether path, or anything below it, is in leaves.
func rendered(leaves map[string]any, path string) bool {
	for k := range leaves {
		if k == path || strings.HasPrefix(k, path+".") {
			return true
		}
	}
	return false
}

// absent marks a key that must not be rendered.
type absent struct{}

// configCase is one golden worker config. expect pins the rules a golden
// file could silently lose: dotted path → value (or absent{}).
type configCase struct {
	name    string
	workers []worker
	options map[string]any
	tweak   func(in *coordinator.RenderInput)
	expect  map[string]any
}

func configCases() []configCase {
	memberOf := func(app string, n int) string { return podName(app, n) + ":7946" }
	return []configCase{
		{name: "monolithic", workers: monolith, expect: map[string]any{
			"server.http_listen_port":                        4040,
			"memberlist.bind_port":                           7946,
			"memberlist.join_members":                        []any{memberOf("pyroscope-worker", 0)},
			"ingester.lifecycler.ring.replication_factor":    1,
			"ingester.lifecycler.ring.kvstore.store":         "memberlist",
			"store_gateway.sharding_ring.replication_factor": 1,
			"distributor.ring.kvstore.store":                 "memberlist",
			"compactor.sharding_ring.kvstore.store":          "memberlist",
			"compactor.cleanup_interval":                     "15m",
			"compactor.deletion_delay":                       "12h",
			"limits.compactor_blocks_retention_period":       "1d",
			"pyroscopedb.data_path":                          "/pyroscope-data",
			"storage.backend":                                "s3",
			"storage.s3.bucket_name":                         "pyroscope",
			"storage.s3.endpoint":                            "minio.m.svc.cluster.local:9000",
			"storage.s3.access_key_id":                       "minio-user",
			"storage.s3.secret_access_key":                   "minio-secret-key",
			"storage.s3.insecure":                            true,
			"storage.s3.region":                              absent{},
			"storage.s3.bucket_lookup_type":                  absent{},
			"api":                                            absent{},
			"self_profiling":                                 absent{},
		}},
		// Parca scrapes the workers: self-profiling would hold the CPU profiler.
		{name: "parca", workers: monolith,
			tweak: func(in *coordinator.RenderInput) {
				in.Relations[coordinator.ParcaScrapeEndpoint] = []coordinator.Relation{{ID: 21,
					Endpoint: coordinator.ParcaScrapeEndpoint, RemoteApp: "parca"}}
			},
			expect: map[string]any{"self_profiling.disable_push": true}},
		{name: "distributed", workers: perRole, expect: map[string]any{
			"memberlist.join_members": []any{
				memberOf("pyro-ad-hoc-profiles", 0), memberOf("pyro-compactor", 0), memberOf("pyro-distributor", 0),
				memberOf("pyro-ingester", 0), memberOf("pyro-querier", 0), memberOf("pyro-query-frontend", 0),
				memberOf("pyro-query-scheduler", 0), memberOf("pyro-store-gateway", 0), memberOf("pyro-tenant-settings", 0),
			},
			"ingester.lifecycler.ring.replication_factor":    1,
			"store_gateway.sharding_ring.replication_factor": 1,
		}},
		{name: "multi-role", workers: []worker{
			{app: "pyro-read", role: "querier,query-frontend", units: 2},
			{app: "pyro-write", role: "distributor,ingester", units: 1},
			{app: "pyro-backend", role: "query-scheduler,compactor,store-gateway,tenant-settings,ad-hoc-profiles", units: 1},
		}, expect: map[string]any{
			"memberlist.join_members": []any{
				memberOf("pyro-backend", 0), memberOf("pyro-read", 0), memberOf("pyro-read", 1), memberOf("pyro-write", 0),
			},
		}},
		{name: "replicated", workers: []worker{
			{app: "pyro-ingester", role: "ingester", units: 3},
			{app: "pyro-store-gateway", role: "store-gateway", units: 3},
			{app: "pyro-rest", role: "querier,query-frontend,query-scheduler,distributor,compactor,tenant-settings,ad-hoc-profiles", units: 1},
		}, expect: map[string]any{
			"ingester.lifecycler.ring.replication_factor":    3,
			"store_gateway.sharding_ring.replication_factor": 3,
		}},
		{name: "invalid-durations", workers: monolith,
			options: map[string]any{"retention_period": "forever", "deletion_delay": "6h", "cleanup_interval": "5x"},
			expect: map[string]any{
				// Clean-up disabled, even the valid deletion_delay is ignored.
				"limits.compactor_blocks_retention_period": 0,
				"compactor.deletion_delay":                 0,
				"compactor.cleanup_interval":               "15m",
			}},
		{name: "long-durations", workers: monolith,
			options: map[string]any{"retention_period": "1y", "deletion_delay": "2d", "cleanup_interval": "1w"},
			expect: map[string]any{
				// model.Duration takes y; Go's time.Duration needs hours.
				"limits.compactor_blocks_retention_period": "1y",
				"compactor.deletion_delay":                 "48h",
				"compactor.cleanup_interval":               "168h",
			}},
		{name: "keep-forever", workers: monolith,
			options: map[string]any{"retention_period": "0", "deletion_delay": "0", "cleanup_interval": "90s"},
			expect: map[string]any{
				"limits.compactor_blocks_retention_period": 0,
				"compactor.deletion_delay":                 0,
				"compactor.cleanup_interval":               "90s",
			}},
		{name: "ingress", workers: perRole,
			tweak:  func(in *coordinator.RenderInput) { in.ExternalURL = "https://example.com/m-pyroscope" },
			expect: map[string]any{"api.base-url": "/m-pyroscope"}},
		{name: "s3-ca-path-style", workers: monolith,
			tweak: func(in *coordinator.RenderInput) {
				in.S3 = &coordinator.S3{
					Endpoint: "s3.internal.example", Bucket: "profiles", AccessKey: "AK", SecretKey: "SK",
					Region: "eu-central-1", PathStyle: true,
					CAChain: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
				}
			},
			expect: map[string]any{
				"storage.s3.bucket_lookup_type": "path-style",
				"storage.s3.region":             "eu-central-1",
				"storage.s3.insecure":           false,
				// Pyroscope has no S3 CA option: nothing may be rendered for it.
				"storage.s3.http": absent{},
			}},
		{name: "ipv6", workers: []worker{
			{app: "pyro-a", role: "all", ips: []string{"fd00::2", "fd00::1"}},
		}, expect: map[string]any{"memberlist.join_members": []any{"[fd00::1]:7946", "[fd00::2]:7946"}}},
	}
}

func (tc configCase) render(t *testing.T) []byte {
	t.Helper()
	in := input(t, tc.workers...)
	if tc.tweak != nil {
		tc.tweak(in)
	}
	plan := Product().Plan(&coordinator.Observed{Config: tc.options})
	if !plan.Publishable {
		t.Fatal("a pyroscope plan must always be publishable")
	}
	out, err := plan.WorkerConfig(in)
	if err != nil {
		t.Fatalf("WorkerConfig: %v", err)
	}
	return out
}

func TestWorkerConfigGolden(t *testing.T) {
	for _, tc := range configCases() {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.render(t)
			if again := tc.render(t); !bytes.Equal(out, again) {
				t.Fatal("rendering is not deterministic")
			}
			checkGolden(t, tc.name+".yaml", out)

			leaves := flatten(t, out)
			for path, want := range tc.expect {
				if _, mustBeAbsent := want.(absent); mustBeAbsent {
					if rendered(leaves, path) {
						t.Errorf("%s is rendered, want it left out", path)
					}
				} else if got := leaves[path]; !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

func TestReplicationFactors(t *testing.T) {
	for ingesters := 1; ingesters <= 4; ingesters++ {
		for gateways := 1; gateways <= 4; gateways++ {
			t.Run(fmt.Sprintf("%d ingesters, %d store-gateways", ingesters, gateways), func(t *testing.T) {
				in := input(t,
					worker{app: "ing", role: "ingester", units: ingesters},
					worker{app: "sg", role: "store-gateway", units: gateways},
					// A querier never counts, however many units it has.
					worker{app: "q", role: "querier", units: 3},
				)
				out, err := RenderConfig(in, DefaultOptions())
				if err != nil {
					t.Fatal(err)
				}
				leaves := flatten(t, out)
				want := func(n int) int {
					if n >= 3 {
						return 3
					}
					return 1
				}
				if got := leaves["ingester.lifecycler.ring.replication_factor"]; got != want(ingesters) {
					t.Errorf("ingester replication_factor = %v, want %d", got, want(ingesters))
				}
				if got := leaves["store_gateway.sharding_ring.replication_factor"]; got != want(gateways) {
					t.Errorf("store-gateway replication_factor = %v, want %d", got, want(gateways))
				}
			})
		}
	}
}

func TestIngressBaseURL(t *testing.T) {
	for external, want := range map[string]any{
		"":                                     absent{},
		"https://pyro.example.com":             absent{},
		"https://pyro.example.com/":            absent{},
		"http://10.0.0.1/m-pyroscope":          "/m-pyroscope",
		"http://10.0.0.1:8080/a/b":             "/a/b",
		"ftp://pyro.example.com/m-pyroscope":   absent{},
		"https://bad_host.example/m-pyroscope": absent{},
	} {
		t.Run(external, func(t *testing.T) {
			in := input(t, monolith...)
			in.ExternalURL = external
			out, err := RenderConfig(in, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, found := flatten(t, out)["api.base-url"]
			if _, none := want.(absent); none != !found || (found && got != want) {
				t.Errorf("api.base-url = %#v (present: %v), want %#v", got, found, want)
			}
		})
	}
}
