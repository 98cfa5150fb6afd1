// Package integration holds the end-to-end tests of shared rooms: `yard serve` subprocesses on a real
// redis-server, driven by stock y-websocket Node clients (testdata/driver.mjs).
package integration
