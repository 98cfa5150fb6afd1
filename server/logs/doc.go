// Package logs serves the "logs" channel kind and /ws/logs: a user's own stream of container
// logs for one pod or a whole workload, read through the apiserver as that user.
//
// Every upstream request asks for timestamps, so each line carries its time, pods of a workload
// can be merged in time order, and a reconnecting client can resume from the last time it saw
// without duplicates. Lines wait in a bounded buffer per stream: a client that reads slower than
// the pods write loses the oldest lines and is told how many, and the server never grows.
package logs
