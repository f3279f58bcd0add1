package charm

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/workload"
)

// DefaultContainersDir is where Juju exposes each workload container's
// Pebble socket to the charm container.
const DefaultContainersDir = "/charm/containers"

// PebbleConnector connects to containers' Pebble sockets under dir
// (<dir>/<container>/pebble.socket); "" means DefaultContainersDir.
func PebbleConnector(dir string) Connector {
	if dir == "" {
		dir = DefaultContainersDir
	}
	return func(container string) (Container, error) {
		c, err := workload.Connect(filepath.Join(dir, container, "pebble.socket"))
		if errors.Is(err, workload.ErrNotReady) {
			return nil, fmt.Errorf("%w: %w", ErrNotReady, err)
		}
		if err != nil {
			return nil, err
		}
		return pebbleContainer{c, container}, nil
	}
}

// pebbleContainer adapts the Pebble workload adapter to Container.
type pebbleContainer struct {
	c    *workload.Container
	name string
}

func (p pebbleContainer) BootID() string { return p.c.BootID() }

func (p pebbleContainer) NginxFacts(ctx context.Context) (coordinator.NginxFacts, error) {
	return p.c.NginxFacts(ctx)
}

func (p pebbleContainer) ApplyNginx(ctx context.Context, config []byte, run bool, statusPort int, files map[string][]byte, tls bool) (NginxResult, error) {
	res, err := p.c.ApplyNginx(ctx, workload.NginxPlan{Config: config, Run: run, StatusPort: statusPort, Files: files, TLS: tls})
	if errors.Is(err, workload.ErrNotReady) {
		err = fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	return NginxResult{Rejected: res.Rejected}, err
}

func (p pebbleContainer) ApplyExporter(ctx context.Context, statusPort int, cert, key []byte) error {
	_, err := p.c.ApplyExporter(ctx, statusPort, cert, key)
	return err
}

func (p pebbleContainer) RemoveFiles(ctx context.Context, names ...string) error {
	_, err := p.c.RemoveFiles(ctx, names...)
	return err
}

func (p pebbleContainer) ApplyLogTargets(ctx context.Context, targets []coordinator.LogTarget) error {
	_, err := p.c.ApplyLogTargets(ctx, workload.LogForwardingLabel(p.name), targets)
	if errors.Is(err, workload.ErrNotReady) {
		err = fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	return err
}
