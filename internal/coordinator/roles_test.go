package coordinator_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
)

// pyroscopeRoles is Pyroscope's table (reference §4): nine atomic roles, all
// required, and "all".
func pyroscopeRoles() coordinator.RoleTable {
	atomic := []string{"querier", "query-frontend", "query-scheduler", "ingester", "distributor",
		"compactor", "store-gateway", "tenant-settings", "ad-hoc-profiles"}
	return coordinator.RoleTable{
		Atomic:   atomic,
		Required: slices.Clone(atomic),
		Meta:     map[string][]string{"all": slices.Clone(atomic)},
	}
}

// mimirRoles is Mimir's table (reference §4): meta roles read, write,
// backend and all that overlap, a minimal deployment of seven roles, the
// rest optional.
func mimirRoles() coordinator.RoleTable {
	return coordinator.RoleTable{
		Atomic: []string{"overrides-exporter", "query-scheduler", "flusher", "query-frontend", "querier",
			"store-gateway", "ingester", "distributor", "ruler", "alertmanager", "compactor"},
		Required: []string{"compactor", "distributor", "ingester", "querier", "query-frontend", "store-gateway", "ruler"},
		Optional: []string{"overrides-exporter", "query-scheduler", "flusher", "alertmanager"},
		Meta: map[string][]string{
			"read":    {"querier", "query-frontend"},
			"write":   {"distributor", "ingester"},
			"backend": {"alertmanager", "compactor", "overrides-exporter", "query-scheduler", "ruler", "store-gateway"},
			"all":     {"compactor", "distributor", "ingester", "querier", "query-frontend", "ruler", "store-gateway"},
		},
	}
}

func tables() map[string]coordinator.RoleTable {
	return map[string]coordinator.RoleTable{"tempo": tempo.Roles(), "pyroscope": pyroscopeRoles(), "mimir": mimirRoles()}
}

func TestRoleTablesValid(t *testing.T) {
	for name, table := range tables() {
		if err := table.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := len(pyroscopeRoles().Required); got != 9 {
		t.Errorf("pyroscope has %d required roles, want 9", got)
	}
}

func TestRoleTableValidateErrors(t *testing.T) {
	base := func() coordinator.RoleTable {
		return coordinator.RoleTable{
			Atomic:   []string{"a", "b", "c"},
			Required: []string{"a", "b"},
			Optional: []string{"c"},
			Meta:     map[string][]string{"all": {"a", "b", "c"}},
		}
	}
	cases := []struct {
		name   string
		modify func(*coordinator.RoleTable)
		want   string
	}{
		{"unknown required role", func(t *coordinator.RoleTable) { t.Required = append(t.Required, "z") }, `"z" is not an atomic role`},
		{"unknown optional role", func(t *coordinator.RoleTable) { t.Optional = []string{"y"} }, `"y" is not an atomic role`},
		{"meta to unknown role", func(t *coordinator.RoleTable) { t.Meta["read"] = []string{"a", "q"} }, `meta role "read" expands to unknown role "q"`},
		{"meta name that is atomic", func(t *coordinator.RoleTable) { t.Meta["a"] = []string{"b"} }, `meta role "a" is also atomic`},
		{"duplicate atomic role", func(t *coordinator.RoleTable) { t.Atomic = append(t.Atomic, "b") }, `atomic role "b"`},
		{"empty atomic role", func(t *coordinator.RoleTable) { t.Atomic = append(t.Atomic, "") }, `atomic role ""`},
		{"atomic role with a comma", func(t *coordinator.RoleTable) { t.Atomic = append(t.Atomic, "d,e") }, `atomic role "d,e"`},
		{"atomic role with spaces", func(t *coordinator.RoleTable) { t.Atomic = append(t.Atomic, " d") }, `atomic role " d"`},
		{"duplicate required role", func(t *coordinator.RoleTable) { t.Required = append(t.Required, "a") }, `"a" is listed twice`},
		{"required and optional", func(t *coordinator.RoleTable) { t.Optional = append(t.Optional, "a") }, `"a" is listed twice`},
		{"meta with no role", func(t *coordinator.RoleTable) { t.Meta["none"] = []string{} }, `meta role "none"`},
		{"meta with a nil expansion", func(t *coordinator.RoleTable) { t.Meta["none"] = nil }, `meta role "none"`},
		{"empty meta name", func(t *coordinator.RoleTable) { t.Meta[""] = []string{"a"} }, `meta role ""`},
	}
	if err := func() error { t := base(); return t.Validate() }(); err != nil {
		t.Fatalf("base table: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			table := base()
			tc.modify(&table)
			err := table.Validate()
			if err == nil {
				t.Fatal("Validate accepted an invalid table")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestRoleTableExpand(t *testing.T) {
	tempoAll := []string{"compactor", "distributor", "ingester", "metrics-generator", "querier", "query-frontend"}
	pyroAll := []string{"ad-hoc-profiles", "compactor", "distributor", "ingester", "querier", "query-frontend",
		"query-scheduler", "store-gateway", "tenant-settings"}
	cases := []struct {
		table, role string
		want        []string
		err         string
	}{
		{"tempo", "all", tempoAll, ""},
		{"tempo", "querier,ingester", []string{"ingester", "querier"}, ""},
		{"tempo", " querier , querier ", []string{"querier"}, ""},
		{"tempo", "all,querier", tempoAll, ""},
		{"tempo", "metrics-generator", []string{"metrics-generator"}, ""},
		{"tempo", "receiver", nil, `unknown role "receiver"`},
		{"tempo", "querier,", nil, `unknown role ""`},
		{"tempo", "Querier", nil, `unknown role "Querier"`},
		{"tempo", "querier;ingester", nil, "unknown role"},
		{"tempo", "", nil, "empty role"},
		{"tempo", "  \t", nil, "empty role"},
		{"tempo", strings.Repeat("x", 500), nil, `unknown role "` + strings.Repeat("x", 40) + `..."`},
		{"pyroscope", "all", pyroAll, ""},
		{"pyroscope", "tenant-settings,ad-hoc-profiles", []string{"ad-hoc-profiles", "tenant-settings"}, ""},
		{"pyroscope", "metrics-generator", nil, "unknown role"},
		{"mimir", "read", []string{"querier", "query-frontend"}, ""},
		{"mimir", "write", []string{"distributor", "ingester"}, ""},
		{"mimir", "read,write", []string{"distributor", "ingester", "querier", "query-frontend"}, ""},
		{"mimir", "backend,ruler", []string{"alertmanager", "compactor", "overrides-exporter", "query-scheduler", "ruler", "store-gateway"}, ""},
		{"mimir", "all", []string{"compactor", "distributor", "ingester", "querier", "query-frontend", "ruler", "store-gateway"}, ""},
		{"mimir", "flusher", []string{"flusher"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.table+"/"+tc.role, func(t *testing.T) {
			got, err := tables()[tc.table].Expand(tc.role)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Expand(%q) = %v, %v; want error containing %q", tc.role, got, err, tc.err)
				}
				if got != nil {
					t.Errorf("Expand(%q) returned roles %v with an error", tc.role, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("Expand(%q) = %v, %v; want %v", tc.role, got, err, tc.want)
			}
		})
	}
}

// The meta role's name never appears among the expanded roles, and
// expanding never changes the table.
func TestRoleTableExpandDoesNotAliasTable(t *testing.T) {
	table := mimirRoles()
	got, err := table.Expand("write,read")
	if err != nil {
		t.Fatal(err)
	}
	got[0] = "mutated"
	if !slices.Equal(table.Meta["write"], []string{"distributor", "ingester"}) ||
		!slices.Equal(table.Meta["read"], []string{"querier", "query-frontend"}) {
		t.Errorf("Expand returned a slice aliasing the table: %v", table.Meta)
	}
}

func TestRoleTableMissing(t *testing.T) {
	cases := []struct {
		table    string
		present  map[string]int
		required []string
		optional []string
	}{
		{"tempo", nil, []string{"querier", "query-frontend", "ingester", "distributor", "compactor"}, []string{"metrics-generator"}},
		{"tempo", map[string]int{"querier": 1, "query-frontend": 1, "ingester": 3, "distributor": 1, "compactor": 1}, nil, []string{"metrics-generator"}},
		{"tempo", map[string]int{"querier": 1, "query-frontend": 1, "ingester": 0, "distributor": 1, "compactor": 1, "metrics-generator": 2}, []string{"ingester"}, nil},
		{"pyroscope", map[string]int{"querier": 1, "query-frontend": 1, "query-scheduler": 1, "ingester": 1, "distributor": 1,
			"compactor": 1, "store-gateway": 1}, []string{"tenant-settings", "ad-hoc-profiles"}, nil},
		{"mimir", map[string]int{"querier": 1, "query-frontend": 1, "distributor": 1, "ingester": 1},
			[]string{"compactor", "store-gateway", "ruler"}, []string{"overrides-exporter", "query-scheduler", "flusher", "alertmanager"}},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(tc.table, i), func(t *testing.T) {
			req, opt := tables()[tc.table].Missing(tc.present)
			if !slices.Equal(req, tc.required) || !slices.Equal(opt, tc.optional) {
				t.Errorf("Missing = %v, %v; want %v, %v", req, opt, tc.required, tc.optional)
			}
		})
	}
}

// The engine's cluster logic works for every table, unchanged: Pyroscope is
// consistent only with all nine roles, Mimir with read/write/backend
// workers (overlapping meta roles counted per unit).
func TestClusterWithOtherTables(t *testing.T) {
	t.Run("pyroscope all", func(t *testing.T) {
		c, problems := coordinator.AggregateCluster(pyroscopeRoles(), []coordinator.Relation{worker(1, "pyroscope-worker", "all", 2)})
		req, _ := pyroscopeRoles().Missing(c.RoleUnits())
		if len(problems) != 0 || len(req) != 0 {
			t.Fatalf("problems %v, missing %v", problems, req)
		}
		if got := c.RoleUnits()["ad-hoc-profiles"]; got != 2 {
			t.Errorf("ad-hoc-profiles units = %d, want 2", got)
		}
	})
	t.Run("pyroscope without tenant-settings", func(t *testing.T) {
		c, _ := coordinator.AggregateCluster(pyroscopeRoles(), []coordinator.Relation{
			worker(1, "read", "querier,query-frontend,query-scheduler,store-gateway", 1),
			worker(2, "write", "ingester,distributor,compactor,ad-hoc-profiles", 1),
		})
		req, opt := pyroscopeRoles().Missing(c.RoleUnits())
		if !slices.Equal(req, []string{"tenant-settings"}) || opt != nil {
			t.Errorf("missing %v %v, want [tenant-settings] []", req, opt)
		}
	})
	t.Run("mimir read write backend", func(t *testing.T) {
		c, problems := coordinator.AggregateCluster(mimirRoles(), []coordinator.Relation{
			worker(1, "mimir-read", "read", 2), worker(2, "mimir-write", "write", 3), worker(3, "mimir-backend", "backend", 1),
		})
		req, opt := mimirRoles().Missing(c.RoleUnits())
		if len(problems) != 0 || req != nil || !slices.Equal(opt, []string{"flusher"}) {
			t.Fatalf("problems %v, missing %v %v", problems, req, opt)
		}
		units := c.RoleUnits()
		if units["ingester"] != 3 || units["querier"] != 2 || units["ruler"] != 1 {
			t.Errorf("role units %v", units)
		}
		if got := c.AddressesByRole()["distributor"]; !slices.Equal(got, []string{unitFQDN("mimir-write", 0), unitFQDN("mimir-write", 1), unitFQDN("mimir-write", 2)}) {
			t.Errorf("distributor addresses %v", got)
		}
	})
	t.Run("tempo role from another product", func(t *testing.T) {
		_, problems := coordinator.AggregateCluster(tempo.Roles(), []coordinator.Relation{worker(1, "mimir-read", "read", 1)})
		if len(problems) != 1 || problems[0].Subject != "mimir-read" || problems[0].Pending {
			t.Errorf("problems %v, want one for mimir-read", problems)
		}
	})
}
