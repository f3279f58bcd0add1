package tempo

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// jsonString encodes s the way the worker charms publish strings (json.dumps).
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// workerRelation is the tempo-cluster relation of one worker application,
// with the data a real Tempo worker publishes. Each address makes a unit.
func workerRelation(id int, app, role string, addresses ...string) coordinator.Relation {
	units := map[string]map[string]string{}
	for i, addr := range addresses {
		unit := fmt.Sprintf("%s/%d", app, i)
		topo, _ := json.Marshal(map[string]string{
			"model":       "m",
			"model_uuid":  "00000000-0000-4000-8000-000000000000",
			"application": app,
			"unit":        unit,
			"charm_name":  "tempo-worker-k8s",
		})
		units[unit] = map[string]string{
			"address":       jsonString(addr),
			"juju_topology": string(topo),
		}
	}
	return coordinator.Relation{
		ID:        id,
		Endpoint:  "tempo-cluster",
		RemoteApp: app,
		AppData:   map[string]string{"role": jsonString(role)},
		Units:     units,
	}
}

// fqdn is the in-cluster name of unit n of a worker app in model "m".
func fqdn(app string, n int) string {
	return fmt.Sprintf("%s-%d.%s-endpoints.m.svc.cluster.local", app, n, app)
}

// cluster aggregates worker relations and fails the test on any problem.
func cluster(t *testing.T, rels ...coordinator.Relation) coordinator.Cluster {
	t.Helper()
	c, problems := coordinator.AggregateCluster(Roles(), rels)
	if len(problems) > 0 {
		t.Fatalf("unexpected cluster problems: %v", problems)
	}
	return c
}

func monolithic(t *testing.T) coordinator.Cluster {
	return cluster(t, workerRelation(1, "tempo-worker", "all", fqdn("tempo-worker", 0)))
}

// distributed has one application per role; skip leaves roles out.
func distributed(t *testing.T, skip ...string) coordinator.Cluster {
	var rels []coordinator.Relation
	for i, role := range Roles().Atomic {
		if strings.Contains(strings.Join(skip, ","), role) {
			continue
		}
		app := "tempo-" + role
		rels = append(rels, workerRelation(i+1, app, role, fqdn(app, 0)))
	}
	return cluster(t, rels...)
}

func testS3() *coordinator.S3 {
	return &coordinator.S3{
		Endpoint:  "minio.m.svc.cluster.local:9000",
		Bucket:    "tempo",
		AccessKey: "AKIDEXAMPLE",
		SecretKey: "wJalrXUtnFEMI/K7MDENG",
		Insecure:  true,
	}
}

func testTLS() *coordinator.TLS {
	return &coordinator.TLS{
		CACert:     "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
		ServerCert: "-----BEGIN CERTIFICATE-----\nSERVER\n-----END CERTIFICATE-----\n",
		PrivateKey: "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n",
	}
}

// tracingRelation is a tracing requirer that asked for receivers (raw value).
func tracingRelation(id int, app, receivers string) coordinator.Relation {
	data := map[string]string{}
	if receivers != "" {
		data["receivers"] = receivers
	}
	return coordinator.Relation{ID: id, Endpoint: TracingEndpoint, RemoteApp: app, AppData: data}
}
