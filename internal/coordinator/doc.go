// Package coordinator is the pure core of the coordinator charm.
//
// It turns what the charm observed (relation data, config, facts about the
// nginx container) into the state the charm wants (databags, the worker
// configuration, nginx.conf, the Pebble layer, opened ports, the status).
// It performs no I/O: no exec, no Pebble, no os. Products (Tempo,
// Pyroscope) plug in as data plus renderers; see Product.
package coordinator
