package coordinator_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/golden"
)

// checkGolden compares got with testdata/<path> (golden.Check).
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", path), got)
}

// js encodes s as the worker charms publish strings (json.dumps).
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

const testModel = "m"

// unitFQDN is the in-cluster name of unit n of app in model "m".
func unitFQDN(app string, n int) string {
	return fmt.Sprintf("%s-%d.%s-endpoints.%s.svc.cluster.local", app, n, app, testModel)
}

// topology is a worker unit's juju_topology as a real worker publishes it.
func topology(app, unit string) string {
	b, _ := json.Marshal(map[string]string{
		"model": testModel, "model_uuid": "00000000-0000-4000-8000-000000000000",
		"application": app, "unit": unit, "charm_name": "tempo-worker-k8s",
	})
	return string(b)
}

// worker is the cluster relation of one worker application with n valid
// units (addresses unitFQDN(app, i)).
func worker(id int, app, role string, n int) coordinator.Relation {
	units := map[string]map[string]string{}
	for i := range n {
		unit := fmt.Sprintf("%s/%d", app, i)
		units[unit] = map[string]string{"address": js(unitFQDN(app, i)), "juju_topology": topology(app, unit)}
	}
	return coordinator.Relation{ID: id, Endpoint: "tempo-cluster", RemoteApp: app,
		AppData: map[string]string{"role": js(role)}, Units: units}
}

const (
	testAccessKey = "AKIDEXAMPLE"
	testSecretKey = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
)

// s3Data is what the s3-integrator publishes for a local MinIO (raw values).
func s3Data() map[string]string {
	return map[string]string{
		"endpoint":   "http://minio-0.minio-endpoints.m.svc.cluster.local:9000",
		"bucket":     "tempo",
		"access-key": testAccessKey,
		"secret-key": testSecretKey,
	}
}

func s3Relation(id int, data map[string]string) coordinator.Relation {
	return coordinator.Relation{ID: id, Endpoint: coordinator.S3Endpoint, RemoteApp: "s3-integrator", AppData: data}
}

// testCA is a syntactically plausible PEM certificate (the engine checks
// only the PEM armour).
const testCA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUTESTCA\n-----END CERTIFICATE-----"

// observed is a leader coordinator "tempo/0" in model "m" with a reachable
// nginx, the given relations (cluster relations go to tempo-cluster) and a
// peers relation.
func observed(cluster []coordinator.Relation, more map[string][]coordinator.Relation) *coordinator.Observed {
	rels := map[string][]coordinator.Relation{
		"tempo-cluster":           cluster,
		coordinator.PeersEndpoint: {{ID: 0, Endpoint: coordinator.PeersEndpoint}},
	}
	for ep, rs := range more {
		rels[ep] = rs
	}
	return &coordinator.Observed{
		Model: testModel, ModelUUID: "11111111-1111-4111-8111-111111111111",
		App: "tempo", Unit: "tempo/0", Leader: true,
		Config:    map[string]any{},
		Relations: rels,
		AppFQDN:   "tempo.m.svc.cluster.local",
		UnitFQDN:  "tempo-0.tempo-endpoints.m.svc.cluster.local",
		Nginx:     &coordinator.NginxFacts{Version: "1.27.5", Resolver: "10.152.183.10"},
	}
}

// withS3 adds a complete s3 relation to more.
func withS3(more map[string][]coordinator.Relation) map[string][]coordinator.Relation {
	if more == nil {
		more = map[string][]coordinator.Relation{}
	}
	more[coordinator.S3Endpoint] = []coordinator.Relation{s3Relation(7, s3Data())}
	return more
}
