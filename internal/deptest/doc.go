// Package deptest holds the architecture rules of the repository as a
// test: the pure core imports no I/O, and only the workload adapter talks
// to Pebble. It has no code of its own.
package deptest
