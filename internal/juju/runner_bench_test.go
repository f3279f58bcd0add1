package juju_test

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/juju"
)

// BenchmarkProcessRunner measures what one tool call costs the caller:
// its own CPU (user+sys, excluding the tool's) per call, as cpu-µs/op.
func BenchmarkProcessRunner(b *testing.B) {
	tool, err := exec.LookPath("true")
	if err != nil {
		b.Skip("no true on PATH")
	}
	r, err := juju.NewProcessRunner()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	before := selfCPU()
	for b.Loop() {
		if _, err := r.Run(ctx, tool, []string{"--format=json"}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(selfCPU()-before)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// BenchmarkExecCommand is BenchmarkProcessRunner's call made the standard
// library's way (os/exec with a buffer for stdout, which takes a pipe and
// a goroutine), for comparison.
func BenchmarkExecCommand(b *testing.B) {
	tool, err := exec.LookPath("true")
	if err != nil {
		b.Skip("no true on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	before := selfCPU()
	for b.Loop() {
		if _, err := exec.CommandContext(ctx, tool, "--format=json").Output(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(selfCPU()-before)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// selfCPU is this process's user+sys time, excluding its children's.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
