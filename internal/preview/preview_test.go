package preview_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/golden"
	"github.com/tempo-coordinator/coordinator/internal/preview"
	"github.com/tempo-coordinator/coordinator/internal/products"
)

// TestRender renders every testdata/*.model.yaml and compares the whole
// output (status, worker config, nginx.conf, databags, ports) with its golden.
func TestRender(t *testing.T) {
	models, err := filepath.Glob("testdata/*.model.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, models)
	for _, path := range models {
		name := strings.TrimSuffix(filepath.Base(path), ".model.yaml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			var m preview.Model
			require.NoError(t, yaml.Unmarshal(raw, &m))
			product, err := products.ByName(m.Product)
			require.NoError(t, err)
			out, err := preview.Render(product, &m)
			require.NoError(t, err)
			var buf bytes.Buffer
			require.NoError(t, out.Write(&buf, ""))
			golden.Check(t, filepath.Join("testdata", name+".golden"), buf.Bytes())
			// Facts a blind -update must not approve.
			switch name {
			case "tempo-monolithic":
				assert.Contains(t, buf.String(), "upstream otlp-grpc")
				assert.Contains(t, buf.String(), "4317/tcp")
			case "tempo-inconsistent":
				assert.Contains(t, buf.String(), "blocked: [consistency] Cluster inconsistent")
				assert.NotContains(t, buf.String(), "x;}")
				assert.Contains(t, buf.String(), "# nginx stopped")
			case "tempo-transition":
				// Queries only reach the query-frontends the queriers attach to.
				assert.Contains(t, buf.String(), "frontend_address: tempo-query-frontend-endpoints.demo.svc.cluster.local:9096")
				assert.Contains(t, buf.String(), "upstream tempo-http {\n        zone tempo-http_zone 64k;\n        server tempo-query-frontend-0.tempo-query-frontend-endpoints.demo.svc.cluster.local:3200;\n        server tempo-query-frontend-1.tempo-query-frontend-endpoints.demo.svc.cluster.local:3200;\n        keepalive 32;\n")
				assert.Contains(t, buf.String(), "server tempo-worker-0.tempo-worker-endpoints.demo.svc.cluster.local:4318;", "writes still go to every distributor")
			case "pyroscope-distributed":
				assert.Contains(t, buf.String(), "replication_factor: 3")
				assert.Contains(t, buf.String(), "otlp_grpc_endpoint_url")
				assert.Contains(t, buf.String(), "active: UI ready at http://pyroscope.demo.svc.cluster.local:8080\n")
			}
		})
	}
}

func TestWriteOnePart(t *testing.T) {
	product, err := products.ByName("tempo")
	require.NoError(t, err)
	out, err := preview.Render(product, &preview.Model{})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, out.Write(&buf, "status"))
	assert.Equal(t, "blocked: [consistency] Missing any worker relation.\n", buf.String())
	assert.Error(t, out.Write(&buf, "nope"))
}
