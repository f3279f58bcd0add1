package workload

import (
	"path/filepath"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/golden"
)

func TestLayerGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		layer Layer
	}{
		{"nginx_layer.yaml", NginxLayer(8080)},
		{"nginx_layer_nocheck.yaml", NginxLayer(0)},
		{"exporter_layer.yaml", ExporterLayer(8080)},
		{"nginx_tls_layer.yaml", NginxTLSLayer(8080)},
		{"exporter_tls_layer.yaml", ExporterTLSLayer(8080, "0123456789abcdef")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.layer.YAML()
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.name), b)
		})
	}
}

// pebblePlan is a combined plan as a real Pebble v1.26 prints it (keys in
// its own order, extra services from other layers).
const pebblePlan = `services:
    nginx:
        summary: nginx
        startup: enabled
        override: replace
        command: nginx -g 'daemon off;'
    other:
        startup: disabled
        override: replace
        command: /bin/false
checks:
    nginx-status:
        override: replace
        level: ready
        period: 10s
        timeout: 3s
        threshold: 3
        http:
            url: http://localhost:8080/status
`

func TestLayerDiff(t *testing.T) {
	l := NginxLayer(8080)
	changed, svcs, err := layerDiff(l, []byte(pebblePlan))
	if err != nil || changed || len(svcs) != 0 {
		t.Fatalf("same layer: changed=%v svcs=%v err=%v", changed, svcs, err)
	}
	// Our own marshalling round-trips.
	b, _ := l.YAML()
	if changed, _, err := layerDiff(l, b); err != nil || changed {
		t.Fatalf("round trip: changed=%v err=%v", changed, err)
	}
	// Empty plan: everything is new.
	changed, svcs, err = layerDiff(l, nil)
	if err != nil || !changed || len(svcs) != 1 || svcs[0] != NginxService {
		t.Fatalf("empty plan: changed=%v svcs=%v err=%v", changed, svcs, err)
	}
	// Only the check differs: changed, but no service to restart.
	changed, svcs, err = layerDiff(NginxLayer(9090), []byte(pebblePlan))
	if err != nil || !changed || len(svcs) != 0 {
		t.Fatalf("check change: changed=%v svcs=%v err=%v", changed, svcs, err)
	}
	// A different command is a service change.
	l2 := NginxLayer(8080)
	s := l2.Services[NginxService]
	s.Command = "nginx -g 'daemon off; worker_processes 2;'"
	l2.Services[NginxService] = s
	if changed, svcs, _ := layerDiff(l2, []byte(pebblePlan)); !changed || len(svcs) != 1 {
		t.Fatalf("command change: changed=%v svcs=%v", changed, svcs)
	}
	if _, _, err := layerDiff(l, []byte("services: [")); err == nil {
		t.Fatal("bad plan YAML accepted")
	}
}
