// Command etcd is the etcd 3.6 server, built from its published Go module because no
// release binary can be downloaded on the machines this project is developed on.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
