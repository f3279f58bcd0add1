// Command charm is a tiny charm used by jujusim's exec-mode tests.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/tempo-coordinator/coordinator/internal/juju"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "charm:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	jc, err := juju.ContextFromEnv(os.Getenv, os.Args[0])
	if err != nil {
		return err
	}
	tools, err := juju.NewProcessRunner()
	if err != nil {
		return err
	}
	defer tools.Close()
	c := juju.NewClient(tools)
	fmt.Println("dispatch", jc.Name)
	if jc.Kind == juju.Action {
		// The charm has no action parameters; this fixture reads them
		// with the tool itself.
		out, err := tools.Run(ctx, "action-get", []string{"--format=json"}, nil)
		if err != nil {
			return err
		}
		var params map[string]any
		if err := json.Unmarshal(out, &params); err != nil {
			return err
		}
		return c.ActionSet(ctx, map[string]string{"echo": fmt.Sprint(params["text"]), "cwd.ok": fmt.Sprint(isCharmDir(jc))})
	}
	ids, err := c.RelationIDs(ctx, "tempo-cluster")
	if err != nil {
		return err
	}
	var workers []string
	for _, id := range ids {
		ref := fmt.Sprintf("tempo-cluster:%d", id)
		units, err := c.RelationList(ctx, ref)
		if err != nil {
			return err
		}
		for _, u := range units {
			data, err := c.RelationGet(ctx, ref, u, false)
			if err != nil {
				return err
			}
			workers = append(workers, u+"="+data["address"])
		}
		if err := c.RelationSet(ctx, ref, true, map[string]string{"workers": strings.Join(workers, ",")}); err != nil {
			return err
		}
	}
	if err := c.StateSet(ctx, map[string]string{"last-hook": jc.Name}); err != nil {
		return err
	}
	if err := c.OpenPort(ctx, juju.Port{Number: 3200, Protocol: "tcp"}); err != nil {
		return err
	}
	if err := c.StatusSet(ctx, "active", fmt.Sprintf("%d workers", len(workers)), false); err != nil {
		return err
	}
	if os.Getenv("CHARM_FAIL") != "" {
		return fmt.Errorf("asked to fail")
	}
	return nil
}

func isCharmDir(jc *juju.Context) bool {
	wd, err := os.Getwd()
	return err == nil && wd == jc.CharmDir
}
