// Command etcd is etcd 3.6's server entry point, built here because `go install` refuses the
// etcd server module (it carries replace directives).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
