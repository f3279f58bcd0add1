// Command readfloor is the floor the hook benchmark compares the charm
// with: a minimal Go program that makes exactly the reads an unchanged
// hook of the charm makes (goal-state, state-get, config-get, is-leader,
// then relation-ids per endpoint with relations and for peers, which
// goal-state never lists, relation-list per relation whose databags are
// read and relation-get per remote databag the endpoint needs),
// through the charm's own juju.Client and juju.ProcessRunner, and does
// nothing else: no rendering, no Pebble, no writes. The charm's cost above
// this program's is what its own logic costs.
//
// With READFLOOR_REPLAY naming a file of calls (package bench/replay), it
// then makes those calls as they are: given a charm's first-hook writes,
// it is the floor of a first hook.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/tempo-coordinator/coordinator/bench/replay"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/products"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "readfloor: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	product, err := products.FromCharmDir(os.Getenv("JUJU_CHARM_DIR"))
	if err != nil {
		return err
	}
	tools, err := juju.NewProcessRunner()
	if err != nil {
		return err
	}
	defer tools.Close()
	c := juju.NewClient(tools)
	goal, err := c.GoalState(ctx)
	if err != nil {
		return err
	}
	if _, err := c.StateGet(ctx); err != nil {
		return err
	}
	if _, err := c.ConfigGet(ctx); err != nil {
		return err
	}
	if _, err := c.IsLeader(ctx); err != nil {
		return err
	}
	for _, ep := range product.Endpoints() {
		if !ep.Peer && len(goal.Relations[ep.Name]) == 0 {
			continue
		}
		ids, err := c.RelationIDs(ctx, ep.Name)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !ep.ReadsData() {
				continue
			}
			rel := ep.Name + ":" + strconv.Itoa(id)
			units, err := c.RelationList(ctx, rel)
			if err != nil {
				return err
			}
			if ep.AppData && len(units) > 0 {
				app, _ := juju.AppOfUnit(units[0])
				if _, err := c.RelationGet(ctx, rel, app, true); err != nil {
					return err
				}
			}
			if ep.UnitData {
				for _, u := range units {
					if _, err := c.RelationGet(ctx, rel, u, false); err != nil {
						return err
					}
				}
			}
		}
	}
	if path := os.Getenv(replay.Env); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		calls, err := replay.Decode(data)
		if err != nil {
			return err
		}
		for _, call := range calls {
			if _, err := tools.Run(ctx, call.Tool, call.Args, call.Stdin); err != nil {
				return err
			}
		}
	}
	return nil
}
