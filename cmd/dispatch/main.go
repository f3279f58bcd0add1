// Command dispatch is the coordinator charm: Juju runs it as the charm's
// dispatch file for every hook and action. Run by hand, it is a small CLI
// that previews what the charm would publish for a described model.
//
// A hook lives for milliseconds, so the runtime's periodic GOMAXPROCS
// updates (a goroutine started with every process) are switched off.
//
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/charm"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/preview"
	"github.com/tempo-coordinator/coordinator/internal/products"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// hookTimeout bounds one hook: Juju has no timeout of its own, and a hung
// hook blocks every other hook of the unit.
const hookTimeout = 5 * time.Minute

func main() {
	if os.Getenv("JUJU_DISPATCH_PATH") != "" || filepath.Base(os.Args[0]) == "dispatch" && os.Getenv("JUJU_UNIT_NAME") != "" {
		os.Exit(dispatch(os.Getenv, os.Stderr))
	}
	if err := rootCommand(os.Stdout).Execute(); err != nil {
		os.Exit(1)
	}
}

// dispatch runs one hook or action as Juju asked and returns the exit code.
func dispatch(getenv func(string) string, stderr io.Writer) int {
	hc, err := juju.ContextFromEnv(getenv, os.Args[0])
	if err != nil {
		fmt.Fprintf(stderr, "ERROR cannot read the hook context: %v\n", err)
		return 1
	}
	product, err := products.FromCharmDir(hc.CharmDir)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR %v\n", err)
		return 1
	}
	tools, err := juju.NewProcessRunner()
	if err != nil {
		fmt.Fprintf(stderr, "ERROR %v\n", err)
		return 1
	}
	defer tools.Close()
	ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
	defer cancel()
	c := &charm.Charm{
		Product:    product,
		Juju:       juju.NewClient(tools),
		Connect:    charm.PebbleConnector(getenv("COORDINATOR_PEBBLE_SOCKET_DIR")),
		ResolvConf: func() ([]byte, error) { return os.ReadFile("/etc/resolv.conf") },
		Log:        stderr,
		Assets:     charm.DirAssets(filepath.Join(hc.CharmDir, "src")),
	}
	if err := c.Run(ctx, hc); err != nil {
		fmt.Fprintf(stderr, "ERROR %s %s: %v\n", hc.Unit, hc.Name, err)
		return 1
	}
	return 0
}

func rootCommand(stdout io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "dispatch",
		Short: "Coordinator charm for distributed Grafana Tempo and Pyroscope",
		Long: `dispatch is the charm code of the Tempo and Pyroscope coordinator charms.

Juju runs it for every hook and action (it reads JUJU_DISPATCH_PATH and the
other JUJU_* variables, and talks to Juju through the hook tools on PATH).
Run by hand, it previews what the charm would do for a described model.`,
		SilenceUsage: true,
	}
	root.SetOut(stdout)
	root.AddCommand(renderCommand(stdout), versionCommand(stdout))
	return root
}

func versionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the charm binary's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(stdout, "dispatch %s\n", version)
		},
	}
}

func renderCommand(stdout io.Writer) *cobra.Command {
	var modelFile, only string
	cmd := &cobra.Command{
		Use:   "render --model FILE",
		Short: "Preview the worker config, nginx.conf, databags and status for a model",
		Long: `render reads a small YAML description of a model (the product, the worker
applications with their roles and unit addresses, the S3 provider's data,
the charm config, the nginx version) and prints what the coordinator would
publish: its status, the worker configuration, nginx.conf, every databag it
would write and the ports it would open. No Juju is needed.

Example model file:

  product: tempo
  workers:
    - app: tempo-worker
      role: all
      units: [tempo-worker-0.tempo-worker-endpoints.demo.svc.cluster.local]
  s3:
    endpoint: http://minio.demo.svc.cluster.local:9000
    bucket: tempo
    access-key: AKIA
    secret-key: secret
    s3-uri-style: path`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(modelFile)
			if err != nil {
				return fmt.Errorf("cannot read model: %w", err)
			}
			var m preview.Model
			if err := yaml.Unmarshal(raw, &m); err != nil {
				return fmt.Errorf("cannot parse model %s: %w", modelFile, err)
			}
			product, err := products.ByName(m.Product)
			if err != nil {
				return err
			}
			out, err := preview.Render(product, &m)
			if err != nil {
				return err
			}
			return out.Write(stdout, only)
		},
	}
	cmd.Flags().StringVar(&modelFile, "model", "", "YAML file describing the model (required)")
	cmd.Flags().StringVar(&only, "only", "", "print one part only: status, worker-config, nginx, databags, ports")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}
