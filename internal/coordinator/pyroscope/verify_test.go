package pyroscope

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/testenv/prereq"
	"gopkg.in/yaml.v3"
)

// The real Pyroscope checks the goldens. `pyroscope -config.file=F -version`
// is enough: main() loads the file strictly (unknown keys are errors),
// parses every value into its Go type, and runs Config.Validate in
// pyroscope.New, all before it looks at -version; any failure exits 1.
// TestPyroscopeRejectsBrokenConfigs proves that it does.

// pyroscopeBinary finds the Pyroscope built by scripts/build-workloads.
func pyroscopeBinary(t *testing.T) string {
	t.Helper()
	prereq.Heavy(t)
	bin := os.Getenv("PYROSCOPE_BIN")
	if home, err := os.UserHomeDir(); bin == "" && err == nil {
		bin = filepath.Join(home, ".cache", "coordinator-workloads", "bin", "pyroscope")
	}
	if info, err := os.Stat(bin); bin == "" || err != nil || info.IsDir() {
		prereq.Missing(t, "no Pyroscope binary (%q): run scripts/build-workloads pyroscope, or set PYROSCOPE_BIN", bin)
	}
	return bin
}

// checkConfig runs the real Pyroscope on a config file and returns its
// output and whether it accepted the file.
func checkConfig(t *testing.T, bin, file string) (string, bool) {
	t.Helper()
	cmd := exec.Command(bin, "-config.file="+file, "-version")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PYROSCOPE_V2=") // the v1 architecture, as the workers run it
	out, err := cmd.CombinedOutput()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("cannot run %s: %v", bin, err)
	}
	return string(out), err == nil
}

// TestPyroscopeAcceptsGoldens feeds every worker config golden file in
// testdata to the real Pyroscope.
func TestPyroscopeAcceptsGoldens(t *testing.T) {
	bin := pyroscopeBinary(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) < len(configCases()) {
		t.Fatalf("found %d golden configs (%v), want at least %d", len(files), err, len(configCases()))
	}
	for _, file := range files {
		abs, err := filepath.Abs(file)
		if err != nil {
			t.Fatal(err)
		}
		if out, ok := checkConfig(t, bin, abs); !ok || !strings.Contains(out, "version") {
			t.Errorf("pyroscope rejected %s:\n%s", file, out)
		}
	}
}

// TestPyroscopeRejectsBrokenConfigs breaks the monolithic golden in ways a
// renderer could, and expects the real Pyroscope to refuse each: so that
// TestPyroscopeAcceptsGoldens can fail, and to pin what the renderer must
// not do.
func TestPyroscopeRejectsBrokenConfigs(t *testing.T) {
	bin := pyroscopeBinary(t)
	raw, err := os.ReadFile(filepath.Join("testdata", "monolithic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		path  string
		value any
		// because is part of Pyroscope's error: it failed for this reason.
		because string
	}{
		{"unknown top-level key", "no_such_option", true, "field no_such_option not found"},
		{"unknown nested key", "compactor.no_such_option", 1, "field no_such_option not found"},
		// Go durations have no day unit: why goDuration turns days into hours.
		{"days in deletion_delay", "compactor.deletion_delay", "1d", "into time.Duration"},
		{"weeks in cleanup_interval", "compactor.cleanup_interval", "1w", "into time.Duration"},
		// Pyroscope's S3 client has no CA option, whatever it is called.
		{"s3 tls_ca_path", "storage.s3.tls_ca_path", "/etc/worker/s3_ca.crt", "field tls_ca_path not found"},
		{"s3 http tls_ca_path", "storage.s3.http.tls_ca_path", "/etc/worker/s3_ca.crt", "field tls_ca_path not found"},
		{"bad bucket lookup type", "storage.s3.bucket_lookup_type", "path", "invalid S3 bucket lookup type"},
		{"retention not a duration", "limits.compactor_blocks_retention_period", "1x", `unknown unit "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			if err := yaml.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			set(doc, strings.Split(tc.path, "."), tc.value)
			broken, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "broken.yaml")
			if err := os.WriteFile(file, broken, 0o644); err != nil {
				t.Fatal(err)
			}
			out, ok := checkConfig(t, bin, file)
			if ok {
				t.Errorf("pyroscope accepted %s = %v:\n%s", tc.path, tc.value, out)
			} else if !strings.Contains(out, tc.because) {
				t.Errorf("pyroscope refused %s = %v, but not because of %q:\n%s", tc.path, tc.value, tc.because, out)
			}
		})
	}
}

// set puts value at keys in doc, creating the mappings on the way.
func set(doc map[string]any, keys []string, value any) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := doc[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[k] = next
		}
		doc = next
	}
	doc[keys[len(keys)-1]] = value
}
