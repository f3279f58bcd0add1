// Command jujusim is the simulated Juju hook tools as one multi-call
// executable: link it as relation-get, status-set, ... and set
// JUJUSIM_MODEL to the model file (see package jujusim's Harness).
package main

import (
	"os"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

func main() {
	os.Exit(jujusim.Main(os.Args[0], os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
