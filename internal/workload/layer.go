package workload

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"gopkg.in/yaml.v3"
)

// Layer is a Pebble configuration layer (the subset of Pebble's layer
// specification the charm uses). It is our own type: Pebble's plan types
// live in its internals and are not API.
type Layer struct {
	Summary     string               `yaml:"summary,omitempty"`
	Description string               `yaml:"description,omitempty"`
	Services    map[string]Service   `yaml:"services,omitempty"`
	Checks      map[string]Check     `yaml:"checks,omitempty"`
	LogTargets  map[string]LogTarget `yaml:"log-targets,omitempty"`
}

// Service is a service entry of a Layer.
type Service struct {
	Override    string            `yaml:"override,omitempty"`
	Summary     string            `yaml:"summary,omitempty"`
	Command     string            `yaml:"command,omitempty"`
	Startup     string            `yaml:"startup,omitempty"`
	Environment map[string]string `yaml:"environment,omitempty"`
	// OnCheckFailure maps a check name to restart|shutdown|ignore.
	OnCheckFailure map[string]string `yaml:"on-check-failure,omitempty"`
}

// Check is a health-check entry of a Layer.
type Check struct {
	Override  string     `yaml:"override,omitempty"`
	Level     string     `yaml:"level,omitempty"`
	Period    Duration   `yaml:"period,omitempty"`
	Timeout   Duration   `yaml:"timeout,omitempty"`
	Threshold int        `yaml:"threshold,omitempty"`
	HTTP      *HTTPCheck `yaml:"http,omitempty"`
	TCP       *TCPCheck  `yaml:"tcp,omitempty"`
}

// TCPCheck is a TCP health check: up when Port accepts connections.
type TCPCheck struct {
	Port int    `yaml:"port"`
	Host string `yaml:"host,omitempty"`
}

// HTTPCheck is an HTTP health check: up when URL answers 2xx.
type HTTPCheck struct {
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers,omitempty"`
}

// Duration is a time.Duration written the way Pebble writes durations in
// its plan (time.Duration.String, e.g. "10s"), so a layer read back from
// the plan compares equal to the one we sent.
type Duration time.Duration

// IsZero lets omitempty drop unset durations.
func (d Duration) IsZero() bool { return d == 0 }

// MarshalYAML writes the duration as a string ("10s").
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// UnmarshalYAML parses a Go duration string ("10s", "1m0s").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("cannot parse duration %q: %w", n.Value, err)
	}
	*d = Duration(v)
	return nil
}

// YAML marshals the layer for Pebble's AddLayer.
func (l Layer) YAML() ([]byte, error) {
	b, err := yaml.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("cannot marshal layer: %w", err)
	}
	return b, nil
}

// Names of what the nginx layer defines.
const (
	// NginxLabel is the label of the layer ApplyNginx adds.
	NginxLabel = "nginx"
	// NginxService is the Pebble service running nginx.
	NginxService = "nginx"
	// NginxCheck is the HTTP check on nginx's /status page.
	NginxCheck = "nginx-status"
	// ExporterLabel is the label of the exporter layer.
	ExporterLabel = "nginx-prometheus-exporter"
	// ExporterService is the Pebble service running the exporter.
	ExporterService = "nginx-prometheus-exporter"
	// ExporterPort is the exporter's metrics port.
	ExporterPort = coordinator.NginxExporterPort
)

// NginxLayer is the nginx container's layer: nginx in the foreground under
// Pebble, and an HTTP check on http://localhost:<statusPort>/status.
//
// The check is level "ready" and has no on-check-failure action, on
// purpose:
//   - Juju turns the "alive" level into the container's Kubernetes liveness
//     probe. ApplyNginx deliberately stops nginx when the cluster cannot be
//     served (NginxPlan.Run false); an alive check would then fail and the
//     kubelet would restart the container forever, wiping the pushed config
//     each time. "ready" only takes the pod out of Service endpoints, which
//     is exactly right while nginx does not serve.
//   - on-check-failure: restart turns a slow or overloaded /status (or a
//     busy upstream during a worker's slow start) into nginx restarts that
//     drop every in-flight connection — the restart-loop pattern of
//     reference-behaviour §10 item 5 (cos-coordinated-workers#159). A
//     crashed nginx is already restarted by Pebble's on-failure default;
//     a wedged one is reported through the check (and the
//     nginx-pebble-check-failed hook) for the charm to surface.
//
// Period 10s, timeout 3s, threshold 3: a down check means ~30s without an
// answer, long enough to ride out a reload. statusPort <= 0 (no /status
// page, as in Tempo's reference config) gives a layer without a check.
func NginxLayer(statusPort int) Layer {
	l := Layer{
		Summary:     "nginx layer",
		Description: "Pebble layer for the coordinator's nginx.",
		Services: map[string]Service{
			NginxService: {
				Override: "replace",
				Summary:  "nginx",
				Command:  "nginx -g 'daemon off;'",
				Startup:  "enabled",
			},
		},
		Checks: map[string]Check{
			NginxCheck: {
				Override:  "replace",
				Level:     "ready",
				Period:    Duration(10 * time.Second),
				Timeout:   Duration(3 * time.Second),
				Threshold: 3,
				HTTP:      &HTTPCheck{URL: "http://localhost:" + strconv.Itoa(statusPort) + "/status"},
			},
		},
	}
	if statusPort <= 0 {
		l.Checks = nil
	}
	return l
}

// NginxTLSLayer is NginxLayer for an nginx that serves TLS: its check
// only connects to statusPort (Pebble's HTTP checks verify certificates
// against the system's roots, and the certificate names the unit, not
// localhost).
func NginxTLSLayer(statusPort int) Layer {
	l := NginxLayer(statusPort)
	if c, ok := l.Checks[NginxCheck]; ok {
		c.HTTP, c.TCP = nil, &TCPCheck{Port: statusPort}
		l.Checks[NginxCheck] = c
	}
	return l
}

// Files of the exporter's TLS, in its container.
const (
	ExporterCertPath   = "/etc/exporter/certs/server.crt"
	ExporterKeyPath    = "/etc/exporter/certs/server.key"
	ExporterWebConfig  = "/etc/exporter/web-config.yaml"
	exporterWebContent = "tls_server_config:\n  cert_file: " + ExporterCertPath + "\n  key_file: " + ExporterKeyPath + "\n"
)

// ExporterTLSLayer is ExporterLayer under TLS: the exporter scrapes
// https://127.0.0.1:<statusPort>/status without verifying (the certificate
// names the unit, not 127.0.0.1) and serves https on :9113 with the
// certificate in ExporterCertPath. filesDigest, a digest of the
// certificate and key, is in the service's environment so that a new
// certificate restarts the exporter.
func ExporterTLSLayer(statusPort int, filesDigest string) Layer {
	l := ExporterLayer(statusPort)
	svc := l.Services[ExporterService]
	svc.Command = fmt.Sprintf("nginx-prometheus-exporter --web.listen-address=:%d --nginx.scrape-uri=https://127.0.0.1:%d/status --no-nginx.ssl-verify --web.config.file=%s",
		ExporterPort, statusPort, ExporterWebConfig)
	svc.Environment = map[string]string{"TLS_FILES_DIGEST": filesDigest}
	l.Services[ExporterService] = svc
	return l
}

// ExporterLayer is the nginx-prometheus-exporter container's layer: the
// exporter on :9113 scraping nginx's stub_status on statusPort.
func ExporterLayer(statusPort int) Layer {
	return Layer{
		Summary:     "nginx-prometheus-exporter layer",
		Description: "Pebble layer for the nginx Prometheus exporter.",
		Services: map[string]Service{
			ExporterService: {
				Override: "replace",
				Summary:  "nginx prometheus exporter",
				Command: fmt.Sprintf("nginx-prometheus-exporter --web.listen-address=:%d --nginx.scrape-uri=http://127.0.0.1:%d/status",
					ExporterPort, statusPort),
				Startup: "enabled",
			},
		},
	}
}

// layerDiff compares l with Pebble's combined plan (YAML from PlanBytes).
// It reports whether any service or check of l is missing from the plan
// or differs from it, and which services differ (a changed service
// definition needs a restart to take effect; a changed check does not).
func layerDiff(l Layer, planYAML []byte) (changed bool, changedServices []string, err error) {
	var plan Layer
	if err := yaml.Unmarshal(planYAML, &plan); err != nil {
		return false, nil, fmt.Errorf("cannot parse pebble plan: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(l.Services)) {
		if got, ok := plan.Services[name]; !ok || !reflect.DeepEqual(normService(got), normService(l.Services[name])) {
			changed = true
			changedServices = append(changedServices, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(l.Checks)) {
		if got, ok := plan.Checks[name]; !ok || !reflect.DeepEqual(got, l.Checks[name]) {
			changed = true
		}
	}
	return changed, changedServices, nil
}

// normService makes empty and nil maps compare equal.
func normService(s Service) Service {
	if len(s.Environment) == 0 {
		s.Environment = nil
	}
	if len(s.OnCheckFailure) == 0 {
		s.OnCheckFailure = nil
	}
	return s
}
